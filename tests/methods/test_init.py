"""tsssl.methods exports every method class (windows, images, text) and FineTune / finetune;
the image / text classes load on first use, so importing the package stays light."""

import subprocess
import sys

import pytest

from tsssl import methods
from tsssl.methods.base import Method

IMAGE_TEXT = {
    "RotNet": "rotnet",
    "Jigsaw": "jigsaw",
    "CLIP": "clip",
    "Word2Vec": "word2vec",
    "MaskedLM": "mlm",
    "SimCSE": "simcse",
}


def test_every_exported_name_resolves():
    assert set(methods._LAZY) <= set(methods.__all__)
    for name in methods.__all__:
        assert getattr(methods, name) is not None, name
    assert set(IMAGE_TEXT) | {"FineTune", "finetune"} <= set(methods.__all__) <= set(dir(methods))


@pytest.mark.parametrize("name,module", list(IMAGE_TEXT.items()))
def test_image_and_text_classes_are_the_method_modules_classes(name, module):
    cls = getattr(methods, name)
    assert issubclass(cls, Method) and cls.__module__ == f"tsssl.methods.{module}"


def test_finetune_is_the_function_and_its_module_still_imports():
    from tsssl.methods.finetune import FineTune, finetune  # the submodule, through sys.modules

    assert methods.FineTune is FineTune and methods.finetune is finetune and callable(finetune)
    assert issubclass(FineTune, Method)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="RotNett"):
        methods.RotNett  # noqa: B018 - the access itself is under test


def test_import_does_not_load_the_image_and_text_methods():
    code = (
        "import sys, tsssl.methods as m; "
        "assert not any(f'tsssl.methods.{x}' in sys.modules for x in ('rotnet', 'jigsaw', 'clip', "
        "'word2vec', 'mlm', 'simcse')); assert 'pandas' not in sys.modules; "
        "m.MaskedLM; assert 'tsssl.methods.mlm' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
