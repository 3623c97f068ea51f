"""The secretariat's command line, one module per audience; ``starter.py`` is its entry point.

``cycle`` checks, starts and follows a cycle; ``changes`` changes a running one; ``intake``
takes submissions, projects and votes on a participant's behalf; ``expert`` records the Expert
Group's choices; ``reports`` prints figures; ``admin`` looks after the registry and the schema.
All of them call the same intake and report functions as the portal.
"""
