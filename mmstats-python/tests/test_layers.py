"""The native modules import in one direction (src/lib.rs names the
layers): each `use crate::` or `crate::` path in a module names a module
below it. The crate is an extension module, whose test binaries cannot
link without a Python, so the check lives here."""

import os
import re

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
LAYERS = ["convert", "values", "slot", "model", "attribute", "field", "open"]


def crate_paths(text):
    names = set(re.findall(r"\bcrate::(\w+)", text))
    for group in re.findall(r"\buse crate::\{([^}]*)\}", text):
        names.update(re.findall(r"^\s*(\w+)", part)[0] for part in group.split(",") if part.strip())
    return names


def test_every_module_is_in_a_layer():
    modules = sorted(name[:-3] for name in os.listdir(SRC) if name.endswith(".rs"))
    assert modules == sorted(LAYERS + ["lib"])


def test_modules_import_only_the_layers_below():
    for at, module in enumerate(LAYERS):
        with open(os.path.join(SRC, module + ".rs")) as source:
            used = crate_paths(source.read())
        above = used - set(LAYERS[:at])
        assert not above, "%s uses %s (not below it)" % (module, sorted(above))


def test_the_check_sees_an_upward_import():
    assert crate_paths("use crate::model::Model;\nlet x = crate::open::f();") == {"model", "open"}
    assert crate_paths("use crate::{slot::Slot, values};") == {"slot", "values"}
