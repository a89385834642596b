-- validate_feed_totals: the day's totals straight from the feed tables, computed apart from
-- journal_lines.sql so the validation step can compare the journal against them.
-- Completed transactions of one tenant's local day; refunds flip every sign. Debit positive, in øre:
-- sales are credits (negative), money received and provider fees are debits.
-- dimension 'vat_rate': key is the line's VAT rate ('gift_card' for gift card lines, which carry no VAT),
--   measures 'gross' and 'vat'. dimension 'payment_method': measures 'amount' and 'provider_fee'.
-- Parameters: tenant_id, local_date (bound by name).
WITH tx AS (
    SELECT t.transaction_id,
           t.payment_method,
           t.amount_ore,
           t.provider_fee_ore,
           CASE WHEN t.kind = 'refund' THEN -1 ELSE 1 END AS sign
    FROM transactions t
    WHERE t.tenant_id = :tenant_id
      AND t.local_date = :local_date
      AND t.status = 'completed'
),
sales AS (
    SELECT CASE WHEN l.category = 'gift_card' THEN 'gift_card' ELSE l.vat_rate END AS vat_key,
           -tx.sign * l.gross_ore AS gross_ore,
           -tx.sign * l.vat_ore AS vat_ore
    FROM tx
    JOIN transaction_lines l
      ON l.tenant_id = :tenant_id AND l.transaction_id = tx.transaction_id
)
SELECT 'vat_rate' AS dimension, vat_key AS key, 'gross' AS measure, SUM(gross_ore) AS amount_ore
FROM sales
GROUP BY vat_key

UNION ALL

SELECT 'vat_rate', vat_key, 'vat', SUM(vat_ore)
FROM sales
GROUP BY vat_key

UNION ALL

SELECT 'payment_method', payment_method, 'amount', SUM(sign * amount_ore)
FROM tx
GROUP BY payment_method

UNION ALL

SELECT 'payment_method', payment_method, 'provider_fee', SUM(sign * provider_fee_ore)
FROM tx
GROUP BY payment_method

ORDER BY 1, 2, 3
