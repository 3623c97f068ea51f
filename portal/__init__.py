"""The participants' portal: sign in by e-mailed link, send official submissions and
projects, vote, unsubscribe. Server-rendered pages (FastAPI + Jinja2) that work without
JavaScript, in the seven languages of the WSIS community.

``app.py`` builds the application; ``routes/`` holds one module per audience; ``pages.py``
renders a page in the visitor's language; ``security.py`` and ``throttle.py`` guard every
request. The portal keeps no state of its own: sessions, tokens and counters are database
rows, so any number of portal processes can run behind a load balancer.
"""
