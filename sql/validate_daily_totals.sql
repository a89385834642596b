-- validate_daily_totals: one tenant's gross sales and VAT per local day over a range of days, straight
-- from the feed tables, for the range check and the recent-weeks chart of the validation report.
-- Completed transactions only; refunds count negative. Amounts are positive for sales (the journal books
-- them as credits), in øre, every sales line included (gift cards too, which carry no VAT).
-- Days without completed transactions are absent.
-- Parameters: tenant_id, date_from, date_to (both inclusive; bound by name).
SELECT t.local_date AS local_date,
       COUNT(DISTINCT t.transaction_id) AS transactions,
       SUM(CASE WHEN t.kind = 'refund' THEN -l.gross_ore ELSE l.gross_ore END) AS sales_ore,
       SUM(CASE WHEN t.kind = 'refund' THEN -l.vat_ore ELSE l.vat_ore END) AS vat_ore
FROM transactions t
JOIN transaction_lines l
  ON l.tenant_id = t.tenant_id AND l.transaction_id = t.transaction_id
WHERE t.tenant_id = :tenant_id
  AND t.local_date >= :date_from
  AND t.local_date <= :date_to
  AND t.status = 'completed'
GROUP BY t.local_date
ORDER BY t.local_date
