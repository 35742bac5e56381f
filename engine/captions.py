"""A picture sent with words: the words are never silently ignored.

SVD and SVD-XT animate a picture without reading any prompt. A model says whether it reads one through its
``prompt_languages`` (empty: it takes no prompt; see ``ModelSpec.uses_prompt`` and ``CloudModel.uses_prompt``).

At submit, a captioned picture with no ``--model`` of the user's goes to a model that reads the words when one
can run: the first in the router's chain order (a local GPU that serves it, a cloud provider not cooling down)
whose price the user's quota allows (:func:`for_caption`). Otherwise, and when the user picked a model that
takes no prompt, the job's attempt says so plainly, naming the models that would use them
(:func:`unused_words`): the running line shows it and the result's caption keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from engine.router import Router, Step
from engine.types import JobKind, JobSpec, Options
from engine.words import N_, Text

Runnable = Callable[[Step], bool]
Affordable = Callable[[float], Awaitable[bool]]


def reads_prompt(step: Step, kind: JobKind, options: Options) -> bool:
    """Whether the model this step runs uses the prompt at all."""
    return bool(step.backend.prompt_languages(kind, replace(options, model=step.model)))


def prompt_models(router: Router, kind: JobKind, options: Options, runnable: Runnable) -> list[tuple[str, Step]]:
    """The models (by name) that read the prompt and can take this job now, each with the step that would
    run it, in the chain's order (then the cheaper first)."""
    chain = router.chains.get(kind, [])
    found = []
    for name in sorted(router.model_names()):
        picked = replace(options, model=name)
        step = next((s for s in router.plan(kind, picked) if runnable(s) and reads_prompt(s, kind, picked)), None)
        if step is not None:
            found.append((name, step))
    order = {name: i for i, name in enumerate(chain)}
    return sorted(found, key=lambda f: (order.get(f[1].name, len(order)), f[1].estimate.cost_usd, f[0]))


async def for_caption(router: Router, kind: JobKind, prompt: str, options: Options, runnable: Runnable,
                      affordable: Affordable) -> Options:
    """The options a captioned picture runs with: the user's, or with a model that reads the words when the
    one it would get does not (and the user did not pick it)."""
    if kind is not JobKind.IMAGE_TO_VIDEO or not prompt.strip() or options.model:
        return options
    first = next((s for s in router.plan(kind, options) if runnable(s)), None)
    if first is None or reads_prompt(first, kind, options):
        return options
    for name, step in prompt_models(router, kind, options, runnable):
        if step.estimate.cost_usd <= 0 or await affordable(step.estimate.cost_usd):
            return replace(options, model=name)
    return options


def unused_words(router: Router, job: JobSpec, step: Step, runnable: Runnable) -> Text | None:
    """What the user is told when this step's model leaves their words out; None when it reads them (or
    there are none)."""
    if not job.prompt.strip() or reads_prompt(step, job.kind, job.options):
        return None
    model = step.model or step.name
    others = [name for name, _ in prompt_models(router, job.kind, replace(job.options, model=None), runnable)]
    if others:
        return N_("{model} animates the picture without using your words; to have them used, pick a model that "
                  "reads them: {choices}", model=model, choices=", ".join(f"--model {name}" for name in others))
    return N_("{model} animates the picture without using your words, and no model here that reads words can "
              "animate pictures right now", model=model)
