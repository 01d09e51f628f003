"""Pure domain logic: no I/O, no framework. Patient record, lesions, rules, scores, dose."""
