"""Scheduled diversity audits."""
