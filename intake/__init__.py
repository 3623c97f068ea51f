"""What people send in: the participant registry, official submissions, projects and votes.

Every write checks its window inside the same transaction that writes the row, so deadlines
hold to the second whether or not a worker is running.
"""
