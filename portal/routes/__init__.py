"""One module per audience: ``public`` (home, language), ``signin`` (sign-up, links,
codes, sign-out), ``account`` (the signed-in participant's page and preferences),
``unsubscribe`` (the List-Unsubscribe target)."""
