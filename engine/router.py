"""The fallback chain per job kind, and cooldowns for backends that keep failing.

Like LiteLLM's ``allowed_fails``/``cooldown_time``: ``allowed_fails`` failures in a row put a backend out of
the chain for ``cooldown_s`` (or for as long as its Retry-After asks, if longer). A refused key or an
unloadable model cools down for an hour at once: retrying it for every job helps no one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.backends.base import Backend
from engine.errors import AuthFailed, BackendError, BackendUnavailable, InvalidInput
from engine.types import Estimate, JobKind, Options
from engine.words import N_, Text

LONG_COOLDOWN_S = 3600.0


@dataclass(frozen=True, slots=True)
class Step:
    backend: Backend
    model: str | None
    estimate: Estimate

    @property
    def name(self) -> str:
        return self.backend.name


@dataclass(frozen=True, slots=True)
class BackendHealth:
    name: str
    local: bool
    kinds: tuple[str, ...]
    problem: Text | str | None  # not configured, not available: why
    cooling_s: float  # seconds of cooldown left
    recent_fails: int
    last_error: Text | str | None


class Router:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        chains: Mapping[JobKind, list[str]],
        *,
        allowed_fails: int = 3,
        cooldown_s: float = 60.0,
        missing: Mapping[str, Text | str] | None = None,
        switched_off: Mapping[str, Text | str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backends = dict(backends)
        self.chains = {kind: list(names) for kind, names in chains.items()}
        self.allowed_fails = allowed_fails
        self.cooldown_s = cooldown_s
        self.missing = dict(missing or {})  # chain entries that are not set up, and why
        # Providers with a key that the operator has not opted in to spend money with, and why.
        self.switched_off = dict(switched_off or {})
        self._clock = clock
        self._fails: dict[str, int] = {}
        self._cool_until: dict[str, float] = {}
        self._last_error: dict[str, Text] = {}
        self._alerted: set[str] = set()

    def plan(self, kind: JobKind, options: Options) -> list[Step]:
        """The backends that could run this job, in chain order (cooling ones included: they may recover)."""
        names = self.chains.get(kind, [])
        if options.provider:
            if options.provider not in self.backends:
                raise InvalidInput(
                    "provider",
                    N_("There is no provider called {provider} here.", provider=repr(options.provider)),
                    hint=N_("Available: {names}.", names=", ".join(sorted(self.backends)))
                    if self.backends else N_("None is set up; leave it out."),
                )
            names = [options.provider]
        steps = []
        for name in names:
            backend = self.backends.get(name)
            if backend is None or kind not in backend.kinds() or backend.unavailable_reason():
                continue
            model = backend.model_for(kind, options)
            if model is None:
                continue
            steps.append(Step(backend, model, backend.estimate(kind, options)))
        return steps

    def model_names(self) -> frozenset[str]:
        """Every model a chat user may pick by name, over all backends (for the check and its hint)."""
        return frozenset(name for backend in self.backends.values() for name in backend.model_names())

    def spenders(self) -> list[str]:
        """The cloud backends that can spend money now: every one that can take jobs (the chains name it,
        or a user's ``--provider`` does)."""
        return [name for name, b in self.backends.items() if not b.local and b.unavailable_reason() is None]

    def why_empty(self, kind: JobKind, options: Options) -> Text:
        """Why no backend can take a job of this kind, one reason per backend (for the NoBackend error). A
        backend's own reason (a setting that is missing) is the operator's words, kept as they are."""
        reasons: list[Text] = []
        names = [options.provider] if options.provider else self.chains.get(kind, [])
        model: Text | str = options.model or N_("its default model")
        for name in names:
            backend = self.backends.get(name)
            if backend is None:
                missing = self.missing.get(name)
                reasons.append(N_("{name}: {reason}", name=name, reason=missing) if missing
                               else N_("{name}: not set up", name=name))
            elif kind not in backend.kinds():
                reasons.append(N_("{name}: cannot animate pictures", name=name) if kind is JobKind.IMAGE_TO_VIDEO
                               else N_("{name}: cannot make videos from text", name=name))
            elif reason := backend.unavailable_reason():
                reasons.append(N_("{name}: {reason}", name=name, reason=reason))
            elif backend.model_for(kind, options) is None:
                other = next((k for k in backend.kinds() if k != kind and backend.model_for(k, options)), None)
                if other is JobKind.IMAGE_TO_VIDEO:
                    reasons.append(N_("{name}: {model} makes image-to-video videos only (send a picture to animate, "
                                      "or pick another model)", name=name, model=model))
                elif other is not None:
                    reasons.append(N_("{name}: {model} makes text-to-video videos only (leave out the image, or "
                                      "pick another model)", name=name, model=model))
                else:
                    reasons.append(N_("{name}: does not have model {model}", name=name, model=repr(options.model)))
        if not reasons:
            return (N_("no chain is configured for image-to-video") if kind is JobKind.IMAGE_TO_VIDEO
                    else N_("no chain is configured for text-to-video"))
        return functools.reduce(lambda said, reason: N_("{said}; {reason}", said=said, reason=reason), reasons)

    def cooling_s(self, name: str) -> float:
        return max(0.0, self._cool_until.get(name, 0.0) - self._clock())

    def record_success(self, name: str) -> None:
        self._fails.pop(name, None)
        self._alerted.discard(name)

    def record_failure(self, name: str, error: BackendError) -> bool:
        """Count a failure; True when admins should hear of it: a refused key or a provider gone, the first
        time since the backend last worked (not once per job)."""
        if not error.retryable or not error.rests_backend:
            return False  # the input's fault, or one model's: the backend's other models still work
        alert = isinstance(error, AuthFailed | BackendUnavailable) and name not in self._alerted
        if alert:
            self._alerted.add(name)
        self._last_error[name] = error.text
        fails = self._fails.get(name, 0) + 1
        cool = error.retry_after or 0.0
        if isinstance(error, AuthFailed | BackendUnavailable):
            cool = max(cool, LONG_COOLDOWN_S)
        if fails >= self.allowed_fails:
            cool = max(cool, self.cooldown_s)
            fails = 0
        self._fails[name] = fails
        if cool:
            self._cool_until[name] = max(self._cool_until.get(name, 0.0), self._clock() + cool)
        return alert

    def health(self) -> list[BackendHealth]:
        rows = []
        for name, backend in self.backends.items():
            rows.append(
                BackendHealth(
                    name=name,
                    local=backend.local,
                    kinds=tuple(sorted(backend.kinds())),
                    problem=backend.unavailable_reason(),
                    cooling_s=self.cooling_s(name),
                    recent_fails=self._fails.get(name, 0),
                    last_error=self._last_error.get(name),
                )
            )
        for name, why in self.missing.items():
            if name not in self.backends:
                rows.append(BackendHealth(name, False, (), why, 0.0, 0, None))
        return rows
