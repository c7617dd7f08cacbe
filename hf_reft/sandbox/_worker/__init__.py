"""Worker-side modules of the sandbox.

They run in the sandbox's own worker processes, which put this folder on ``sys.path`` and import
the modules as top-level ``hfsb_*`` modules: the workers never import the ``hf_reft`` package
(whose ``__init__`` may pull in heavy dependencies), only the standard library and the modules a
policy pre-loads. The host imports :mod:`hfsb_protocol` through the package path.
"""
