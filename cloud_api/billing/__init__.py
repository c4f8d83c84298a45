"""Billing: installments, invoices with lines per robot and coverage, payments."""
