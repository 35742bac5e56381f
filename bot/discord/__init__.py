"""The Discord front end: slash commands and a context menu become jobs; one deferred reply per job is edited
as the job moves and ends with the mp4; buttons (persistent across restarts) cancel, retry or move a job to
the cloud; ``/status`` shows admins an embed and a chart. Built on discord.py's ``app_commands``.
"""
