"""Cloud video providers: one backend per provider, behind the same Protocol as the local GPUs.

``base.CloudBackend`` owns what every provider shares (one HTTP session, submit → poll → download, cancel on
the remote side, a deadline, progress, cost); each provider module speaks only its own protocol
(``../shared/specs/providers.md``). ``catalog`` maps reelbot's model names to each provider's models, inputs
and prices; ``failures`` turns every HTTP answer into one of the engine's errors.
"""
