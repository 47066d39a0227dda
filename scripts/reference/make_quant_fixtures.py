#!/usr/bin/env python3
"""Generate core/tests/fixtures/gguf_quants/quants.gguf, the GGUF dequantisation fixture.

One tensor per ggml type plus, for each, an F32 tensor `<name>.expected` holding the
dequantisation computed by the reference `gguf` Python package (gguf.quants.dequantize),
so the Rust reader can be checked bit for bit. Also carries metadata of every GGUF value
type (incl. nested arrays) and a non-default `general.alignment`.

Usage:  pip install gguf numpy && python3 scripts/reference/make_quant_fixtures.py
Deterministic (fixed seed); output ~100 KB.
"""
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import quantize, dequantize, GGML_QUANT_SIZES

OUT = Path(__file__).resolve().parents[2] / "core/tests/fixtures/gguf_quants/quants.gguf"
rng = np.random.default_rng(1568)


def random_kquant(qtype: T, rows: int, cols: int) -> np.ndarray:
    """Random K-quant super-blocks (the gguf package cannot quantise these) with sane f16 scales."""
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows * cols // block_elems, block_bytes), dtype=np.uint8)
    scale_offsets = {T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [block_bytes - 2]}[qtype]  # d (and dmin)
    for off in scale_offsets:
        scales = (rng.standard_normal(blocks.shape[0]) * 0.01).astype(np.float16)
        blocks[:, off:off + 2] = scales.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, -1)


def main() -> None:
    w = gguf.GGUFWriter(OUT, arch="test")
    w.add_custom_alignment(64)
    # One key per value type; the Rust test reads them back.
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_uint64("test.u64", 10**18)
    w.add_int64("test.i64", -(10**18))
    w.add_float32("test.f32", 1.5)
    w.add_float64("test.f64", -2.25)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "naïve ✓")
    w.add_array("test.i32_array", [1, -2, 3])
    w.add_array("test.str_array", ["a", "bc", ""])
    w.add_array("test.nested_array", [[1, 2], [3]])
    w.add_key_value("test.u64_array", [1, 2**40], V.ARRAY, sub_type=V.UINT64)

    # name -> (stored array, ggml type or None for plain numpy dtypes)
    tensors: dict[str, tuple[np.ndarray, T]] = {}
    data = rng.standard_normal((4, 256)).astype(np.float32)
    tensors["f32"] = (data, T.F32)
    tensors["f16"] = (data.astype(np.float16), T.F16)
    tensors["bf16"] = (quantize(data, T.BF16), T.BF16)
    tensors["q8_0"] = (quantize(rng.standard_normal((2, 3, 64)).astype(np.float32), T.Q8_0), T.Q8_0)
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        tensors[qtype.name.lower()] = (quantize(rng.standard_normal((4, 256)).astype(np.float32), qtype), qtype)
    tensors["q4_k"] = (random_kquant(T.Q4_K, 2, 512), T.Q4_K)
    tensors["q5_k"] = (random_kquant(T.Q5_K, 2, 512), T.Q5_K)
    tensors["q6_k"] = (random_kquant(T.Q6_K, 2, 512), T.Q6_K)

    for name, (stored, qtype) in tensors.items():
        expected = dequantize(stored, qtype).astype(np.float32)
        raw_dtype = qtype if stored.dtype == np.uint8 else None
        w.add_tensor(name, stored, raw_dtype=raw_dtype)
        w.add_tensor(f"{name}.expected", expected)
        print(f"{name:6} {qtype.name:5} shape {list(expected.shape)}")

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
