"""Matter handlers (办事): a department applies for a citizen's matter and the exchange resolves
every proof the matter requires without paper, then decides on the matter's rules.

records.py holds the tables; parties.py who an application is about; planning.py which proofs
are required of whom; resolution.py how each is resolved (pulled, committed, skipped, handed to
a department); evaluation.py and decision.py the rules and their provenance; commitments.py the
signed 告知承诺 and post_check.py their 事后核查; service.py the use cases; recheck.py the annual
re-check; statistics.py the counts of paper saved.
"""
