"""Shared kernel of the domain: explained values (a result with its reason) and input checks.

Every other domain context may use it; it uses none of them."""
