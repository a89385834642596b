-- journal_lines: the journal entries of one tenant's local day under one mapping version.
-- One row per entry (sales line, settlement, provider fee, fee settlement), debit positive,
-- in øre; refunds flip every sign. account_number is NULL where the mapping lacks the type.
-- Parameters: tenant_id, local_date, mapping_version_id (bound by name).
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
entries AS (
    SELECT tx.transaction_id,
           l.line_no,
           'sale' AS entry,
           CASE
               WHEN l.category = 'gift_card' THEN 'gift_card_liability'
               ELSE COALESCE(p.account_type, c.account_type, 'sales.' || l.vat_rate)
           END AS account_type,
           CASE WHEN l.category = 'gift_card' THEN NULL ELSE l.vat_rate END AS vat_rate,
           -tx.sign * l.gross_ore AS amount_ore,
           CASE WHEN l.category = 'gift_card' THEN 0 ELSE -tx.sign * l.vat_ore END AS vat_ore,
           tx.payment_method
    FROM tx
    JOIN transaction_lines l
      ON l.tenant_id = :tenant_id AND l.transaction_id = tx.transaction_id
    LEFT JOIN mapping_accounts p
      ON p.mapping_version_id = :mapping_version_id AND p.account_type = 'product.' || l.product_id
    LEFT JOIN mapping_accounts c
      ON c.mapping_version_id = :mapping_version_id AND c.account_type = 'category.' || l.category

    UNION ALL

    SELECT tx.transaction_id, 0, 'settlement',
           CASE WHEN tx.payment_method = 'gift_card' THEN 'gift_card_liability'
                ELSE 'settlement.' || tx.payment_method END,
           NULL, tx.sign * tx.amount_ore, 0, tx.payment_method
    FROM tx

    UNION ALL

    SELECT tx.transaction_id, 0, 'fee', 'provider_fees', NULL, tx.sign * tx.provider_fee_ore, 0, tx.payment_method
    FROM tx
    WHERE tx.provider_fee_ore > 0

    UNION ALL

    SELECT tx.transaction_id, 0, 'fee_settlement', 'settlement.' || tx.payment_method, NULL,
           -tx.sign * tx.provider_fee_ore, 0, tx.payment_method
    FROM tx
    WHERE tx.provider_fee_ore > 0
)
SELECT e.transaction_id,
       e.line_no,
       e.entry,
       e.account_type,
       e.vat_rate,
       e.amount_ore,
       e.vat_ore,
       e.payment_method,
       m.account_number
FROM entries e
LEFT JOIN mapping_accounts m
  ON m.mapping_version_id = :mapping_version_id AND m.account_type = e.account_type
ORDER BY e.transaction_id, e.line_no, e.entry
