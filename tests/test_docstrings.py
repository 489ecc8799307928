"""Every public name has a numpydoc docstring whose parameters match its signature.

scikit-learn's ``check_docstring_parameters`` only inspects ``sklearn.*`` objects, so this
is the same check for ours, built on numpydoc's parser: the documented parameters are the
signature's, in the same order (``*args``/``**kwargs`` included under their starred names),
and every public name has an Examples section (run as a doctest by ``--doctest-modules``).
"""

import inspect

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

from sklearn_robust import adversaries, base, datasets, estimators, experiments, metrics, nets

MODULES = [adversaries, base, datasets, estimators, experiments, metrics, nets]


def _public_objects():
    seen = {}
    for module in MODULES:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(f"{module.__name__}.{name}", obj)
    return sorted(seen.items())


PUBLIC = _public_objects()


def _public_methods(cls):
    """Methods defined by the library (not inherited from scikit-learn, torch, skorch)."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or not member.__module__.startswith("sklearn_robust"):
            continue
        yield name, member


def _signature_names(func, drop_self):
    names = []
    for param in inspect.signature(func).parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            names.append(f"*{param.name}")
        elif param.kind is param.VAR_KEYWORD:
            names.append(f"**{param.name}")
        else:
            names.append(param.name)
    return names[1:] if drop_self and names and names[0] in ("self", "cls") else names


def _documented_names(doc):
    names = []
    for param in doc["Parameters"]:
        names.extend(part.strip() for part in param.name.split(","))
    return names


def _mismatch(where, documented, expected):
    return f"{where}: documents {documented}, signature has {expected}"


def _check(qualname, obj):
    errors = []
    if inspect.isclass(obj):
        doc = ClassDoc(obj, config={"show_class_members": False})
        expected = _signature_names(obj.__init__, drop_self=True)
        if obj.__init__ is object.__init__:
            expected = []
        if _documented_names(doc) != expected:
            errors.append(_mismatch(qualname, _documented_names(doc), expected))
        for name, method in _public_methods(obj):
            method_doc = FunctionDoc(method)
            static = isinstance(inspect.getattr_static(obj, name), staticmethod)
            expected = _signature_names(method, drop_self=not static)
            if _documented_names(method_doc) != expected:
                errors.append(
                    _mismatch(f"{qualname}.{name}", _documented_names(method_doc), expected)
                )
    else:
        doc = FunctionDoc(obj)
        expected = _signature_names(obj, drop_self=False)
        if _documented_names(doc) != expected:
            errors.append(_mismatch(qualname, _documented_names(doc), expected))
    if not doc["Examples"]:
        errors.append(f"{qualname}: no Examples section")
    return errors


def test_the_public_api_is_found():
    names = {qualname.rsplit(".", 1)[1] for qualname, _ in PUBLIC}
    assert {"RandEigenMean", "CoPurTransformer", "FederatedClassifier", "Backdoor",
            "federated_poisoning", "load_digits_agents", "make_robust_scorer"} <= names


@pytest.mark.parametrize("qualname, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_docstring_parameters_match_signature(qualname, obj):
    errors = _check(qualname, obj)
    assert not errors, "\n".join(errors)


def test_the_check_catches_a_wrong_docstring():
    def wrong(a, b):
        """Do it.

        Parameters
        ----------
        a : int
            First.
        c : int
            Not a parameter.

        Examples
        --------
        >>> wrong(1, 2)
        """

    assert _check("wrong", wrong) == ["wrong: documents ['a', 'c'], signature has ['a', 'b']"]
