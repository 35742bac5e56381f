"""Prompts in a language the model does not understand, in English first.

Each model says which prompt languages its text encoder understands (``prompt_languages`` in the local
registry and the cloud catalog; CLIP-based models read English). When an attempt starts on such a model and
the prompt is in another language (``detect``), the prompt is translated by a local translation model
(``model``, kept warm by ``translator``) and the model gets the English; a model that understands the
prompt's language gets it as written, and so does every model for a job sent with ``--raw``. ``prompts``
decides what one attempt's model gets. If the translation model cannot be loaded, the job goes on with the
prompt as written and the user is told.

The modules are imported by name (``engine.translate.detect``...): this package stays free of torch.
"""
