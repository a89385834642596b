"""Daily journal: from staged transactions and a mapping version to a balanced voucher."""
