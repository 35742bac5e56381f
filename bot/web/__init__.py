"""The web console: reelbot's third front end (Starlette, served by uvicorn inside the engine's loop)."""
