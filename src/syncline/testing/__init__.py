"""Testing tools that run connectors on Syncline's real parts.

:mod:`syncline.testing.acceptance` runs a connector on the real managed HTTP
client against its sandbox, so it sits above :mod:`syncline.http`. The building
blocks that need nothing above the SDK — ``Records``/``Events`` builders, the
fault-injecting server, the sandbox framework, in-memory settings — stay in
:mod:`syncline.sdk.testing`.
"""
