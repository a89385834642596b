-- journal_release_days: revenue on delivery, the payment days whose prepaid lines are delivered on one
-- tenant's local day: completed transactions of an earlier day with a line (not a gift card) whose
-- service date is that day. Each payment day's mapping version then decides whether it deferred them
-- (sql/journal_prepayments.sql releases them).
-- Parameters: tenant_id, local_date (bound by name).
-- CROSS JOIN keeps the lines of the day (index on service date) the outer loop in SQLite, which would
-- otherwise walk every earlier transaction; PostgreSQL plans it as the inner join it is.
SELECT DISTINCT t.local_date AS payment_date
FROM transaction_lines l
CROSS JOIN transactions t
WHERE t.tenant_id = l.tenant_id
  AND t.transaction_id = l.transaction_id
  AND l.tenant_id = :tenant_id
  AND l.service_date = :local_date
  AND l.category <> 'gift_card'
  AND t.local_date < :local_date
  AND t.status = 'completed'
ORDER BY t.local_date
