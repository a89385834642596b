-- prepaid_lines: revenue on delivery, the lines of one tenant paid on or before paid_to and delivered
-- after served_after, later than their payment day (gift cards never), with their net (gross less
-- BookSpot's VAT) in øre, a refund's negative. Which of them wait on customer_prepayments is the payment
-- day's mapping version's to say (journal/prepayments.py).
-- Parameters: tenant_id, paid_to, served_after (bound by name).
SELECT t.local_date AS payment_date,
       l.service_date,
       t.transaction_id,
       l.line_no,
       l.product_name,
       CASE WHEN t.kind = 'refund' THEN -1 ELSE 1 END * (l.gross_ore - l.vat_ore) AS net_ore
FROM transactions t
JOIN transaction_lines l
  ON l.tenant_id = t.tenant_id AND l.transaction_id = t.transaction_id
WHERE t.tenant_id = :tenant_id
  AND t.status = 'completed'
  AND l.category <> 'gift_card'
  AND l.service_date > t.local_date
  AND t.local_date <= :paid_to
  AND l.service_date > :served_after
ORDER BY l.service_date, t.local_date, t.transaction_id, l.line_no
