"""A package, so that this directory's ``conftest`` is imported as ``store.conftest`` and does not
take the plain module name ``conftest`` that other tests import helpers from."""
