"""The front-end core: what every front end does the same way, whatever its platform.

- :mod:`bot.core.frontend`: the :class:`~bot.core.frontend.FrontEnd` Protocol the composition root starts
  and stops;
- :mod:`bot.core.lines`: engine events as the line a job's message shows, and a job's last line;
- :mod:`bot.core.editor`: the paced "latest text wins" editor of a job's message, with the platform's
  ``edit()`` injected;
- :mod:`bot.core.feed`: engine events to each job's message (and provider alerts to the admins);
- :mod:`bot.core.actions`: the job buttons (cancel, run on cloud, retry, same seed).

A platform adapter (``bot/discord``, ``bot/telegram``) only parses, renders and sends.
"""
