#!/usr/bin/env python3
"""PyTorch + transformers reference of cram's cramming step, for speed ratios (`cram bench --reference`).

One step, for B texts of L tokens each (the same computation as core/src/cramming/):
  input  = [sink, mem_1..mem_K, t_1..t_{L-1}] at the input-embedding level, positions 0..
           sink = embedding of <|endoftext|> if the vocabulary has it, else BOS, else EOS;
           mem  = K trainable vectors per text, init N(0, std of the whole input-embedding matrix)
  logits = final norm + LM head applied only to positions K..K+L-1 (the last memory vector
           predicts t_1, t_i predicts t_{i+1})
  loss   = cross-entropy against t_1..t_L, mean over each text's L tokens, summed over texts
  then backward, AdamW(lr 1e-2, betas (0.9, 0.9), weight_decay 0.01, eps 1e-8) on the [B, K, d]
  memory, and the teacher-forced argmax accuracy from the same logits.

Modes:
  default     one JSON line per (length, batch) on stdout with the mean seconds per timed step
  --converge  one text, step until the teacher-forced accuracy over all L tokens is 1.0

Progress goes to stderr. Run it through bench_reference.sh, which provides the venv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def int_list(s: str) -> list[int]:
    try:
        out = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}")
    if not out or any(x < 1 for x in out):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {s!r}")
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a .gguf file, a Hugging Face model folder, or a config.json "
                                                  "(random weights of its architecture; needs --ids)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help="JSON file: a list of token-id lists (preferred: same tokens as cram)")
    src.add_argument("--texts", help="JSON-lines file with a 'text' field per line; any other "
                                     "extension is read whole as one text")
    p.add_argument("--lengths", type=int_list, default=[16, 64, 256],
                   help="tokens L per text, comma-separated (texts shorter than L are skipped)")
    p.add_argument("--batch", type=int_list, default=[1], help="batch sizes B, comma-separated")
    p.add_argument("--mem", type=int, default=1, help="memory vectors K per text (default 1)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before them (default 2)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: all cores)")
    p.add_argument("--autocast", choices=["none", "bf16"], default="none",
                   help="run the forward pass under torch.autocast('cpu', torch.bfloat16) (default: none, f32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the memory initialisation (default 0)")
    p.add_argument("--converge", action="store_true",
                   help="cram the first text of length >= L (first of --lengths) until exact")
    p.add_argument("--max-steps", type=int, default=2000, help="step limit of --converge (default 2000)")
    a = p.parse_args(argv)
    if a.mem < 1 or a.steps < 1 or a.warmup < 0 or a.max_steps < 1:
        p.error("--mem, --steps and --max-steps must be >= 1, --warmup >= 0")
    if a.threads is not None and a.threads < 1:
        p.error("--threads must be >= 1")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    threads = a.threads or max(1, os.cpu_count() or 1)
    # Before importing transformers, so nothing has started a thread pool yet.
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import torch.nn.functional as F
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    # ---- model and tokenizer ------------------------------------------------------------------
    path = Path(a.model).expanduser()
    if not path.exists():
        log(f"no such model: {path}")
        return 2
    t0 = time.perf_counter()
    kw = dict(dtype=torch.float32, attn_implementation="eager")
    if path.is_file() and path.suffix == ".json":
        # random weights of the architecture, as `cram bench --model CONFIG.json`
        from transformers import AutoConfig
        torch.manual_seed(a.seed)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(path)), **kw)
        folder, gguf = None, None
    elif path.is_file():
        if path.suffix != ".gguf":
            log(f"{path}: expected a .gguf file or a model folder")
            return 2
        folder, gguf = str(path.parent), {"gguf_file": path.name}
    else:
        folder, gguf = str(path), {}
    if folder is not None:
        model = AutoModelForCausalLM.from_pretrained(folder, **gguf, **kw)
    model.requires_grad_(False)
    model.eval()
    # transformers 5 builds an empty tokenizer for a folder without tokenizer files: refuse that.
    tok_files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    try:
        if folder is None:
            raise FileNotFoundError("random weights have no tokenizer")
        if not gguf and not any((path / f).exists() for f in tok_files):
            raise FileNotFoundError(f"no tokenizer file in {path}")
        tok = AutoTokenizer.from_pretrained(folder, **gguf)
    except Exception as e:
        if folder is not None and not gguf and (path / "tokenizer.json").exists():
            tok = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"))
        elif a.ids:  # ids need no tokenizer; the sink falls back to the config's BOS / EOS
            log(f"no tokenizer ({type(e).__name__}); the sink is the config's BOS or EOS")
            tok = None
        else:
            raise
    log(f"loaded {path.name} ({type(model).__name__}) in {time.perf_counter() - t0:.1f}s, {threads} thread(s)")

    base = getattr(model, model.base_model_prefix)  # LlamaModel (model.model) / GPTNeoXModel (model.gpt_neox)
    norm_name = next((n for n in ("norm", "final_layer_norm", "norm_f") if isinstance(getattr(base, n, None), torch.nn.Module)), None)
    if norm_name is None:
        log(f"{type(base).__name__}: no final norm found (expected .norm or .final_layer_norm)")
        return 2
    # Final norm applied after slicing the L scored positions, as cram does: the base model returns
    # the pre-norm hidden states.
    final_norm = getattr(base, norm_name)
    setattr(base, norm_name, torch.nn.Identity())
    embed = model.get_input_embeddings()
    head = model.get_output_embeddings()  # lm_head (Llama) / embed_out (GPT-NeoX)
    E = embed.weight
    d = E.shape[1]
    emb_std = float(E.double().std(correction=0))  # population std of the whole matrix, like cram

    vocab = tok.get_vocab() if tok is not None else {}
    if "<|endoftext|>" in vocab:
        sink_id, sink_src = vocab["<|endoftext|>"], "<|endoftext|>"
    else:
        sink_id, sink_src = None, None
        for key in ("bos_token_id", "eos_token_id"):
            v = getattr(model.config, key, None)
            if isinstance(v, (list, tuple)):
                v = v[0] if v else None
            if v is not None:
                sink_id, sink_src = int(v), key
                break
        if sink_id is None:
            log("the model has no <|endoftext|>, BOS or EOS token to use as a sink")
            return 2
    log(f"sink token {sink_id} ({sink_src}), embedding std {emb_std:.6g}, d {d}")

    # ---- texts --------------------------------------------------------------------------------
    if a.ids:
        ids_all = [list(map(int, x)) for x in json.loads(Path(a.ids).read_text(encoding="utf-8"))]
    else:
        tp = Path(a.texts)
        raw = tp.read_text(encoding="utf-8")
        if tp.suffix == ".jsonl":
            texts = [json.loads(line)["text"] for line in raw.splitlines() if line.strip()]
        else:
            texts = [raw]
        # cram encodes without special tokens (core/src/tokenizer/mod.rs).
        ids_all = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    log(f"{len(ids_all)} text(s), token counts {[len(x) for x in ids_all][:8]}{' ...' if len(ids_all) > 8 else ''}")
    max_pos = getattr(model.config, "max_position_embeddings", None)

    def common():
        return {"impl": "pytorch", "torch": torch.__version__, "transformers": version("transformers"),
                "threads": torch.get_num_threads(), "model": str(a.model), "autocast": a.autocast}

    def setup(rows: list[list[int]], L: int):
        """Tensors and optimiser for B = len(rows) texts of L tokens each."""
        B, K = len(rows), a.mem
        if max_pos is not None and 1 + K + L - 1 > max_pos:
            raise ValueError(f"{1 + K + L - 1} positions exceed the model's context of {max_pos}")
        targets = torch.tensor([r[:L] for r in rows], dtype=torch.long)  # [B, L]
        sink = torch.full((B, 1), sink_id, dtype=torch.long)
        g = torch.Generator().manual_seed(a.seed)
        mem = (torch.randn(B, K, d, generator=g) * emb_std).requires_grad_(True)
        opt = torch.optim.AdamW([mem], lr=1e-2, betas=(0.9, 0.9), weight_decay=0.01, eps=1e-8)
        return targets, sink, mem, opt

    def forward_backward(targets, sink, mem):
        """One forward + backward; returns (mean loss per text, accuracy per text [B])."""
        B, L = targets.shape
        K = mem.shape[1]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            x = torch.cat([embed(sink), mem, embed(targets[:, : L - 1])], dim=1)  # [B, 1+K+L-1, d]
            h = base(inputs_embeds=x, use_cache=False).last_hidden_state
            logits = head(final_norm(h[:, K : K + L]))  # positions 1+K-1 .. 1+K+L-2 -> [B, L, V]
        logits = logits.float()
        nll = F.cross_entropy(logits.reshape(B * L, -1), targets.reshape(-1), reduction="none").view(B, L)
        loss = nll.mean(dim=1).sum()
        loss.backward()
        with torch.no_grad():
            acc = (logits.argmax(dim=-1) == targets).float().mean(dim=1)
        return float(loss.detach()) / B, acc

    # ---- --converge ---------------------------------------------------------------------------
    if a.converge:
        L = a.lengths[0]
        row = next((r for r in ids_all if len(r) >= L), None)
        if row is None:
            log(f"no text has {L} tokens")
            return 2
        targets, sink, mem, opt = setup([row], L)
        t0 = time.perf_counter()
        steps, exact, loss, acc = 0, None, float("nan"), 0.0
        while steps < a.max_steps:
            opt.zero_grad(set_to_none=True)
            loss, accs = forward_backward(targets, sink, mem)
            acc = float(accs[0])
            steps += 1
            if steps % 25 == 0 or acc == 1.0:
                log(f"step {steps}: loss {loss:.4f} accuracy {acc:.4f}")
            if acc == 1.0:  # checked before the update, as cram does
                exact = steps
                break
            opt.step()
        out = common() | {"mode": "converge", "length": L, "mem": a.mem, "seed": a.seed, "max_steps": a.max_steps,
                          "steps_to_exact": exact, "steps": steps, "seconds": time.perf_counter() - t0,
                          "final_loss": loss, "final_accuracy": acc}
        print(json.dumps(out), flush=True)
        return 0

    # ---- benchmark ----------------------------------------------------------------------------
    for L in a.lengths:
        pool = [r for r in ids_all if len(r) >= L]
        if not pool:
            log(f"L={L}: no text has {L} tokens, skipped")
            continue
        for B in a.batch:
            rows = [pool[i % len(pool)] for i in range(B)]
            if B > len(pool):
                log(f"L={L} B={B}: only {len(pool)} text(s) long enough, repeating them")
            try:
                targets, sink, mem, opt = setup(rows, L)
            except ValueError as e:
                log(f"L={L}: {e}, skipped")
                break
            times = []
            for i in range(a.warmup + a.steps):
                t = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss, accs = forward_backward(targets, sink, mem)
                opt.step()
                dt = time.perf_counter() - t
                if i >= a.warmup:
                    times.append(dt)
            s = sum(times) / len(times)
            log(f"L={L} B={B}: {s * 1000:.1f} ms/step (min {min(times) * 1000:.1f}), loss {loss:.4f}, "
                f"accuracy {float(accs.mean()):.3f}")
            out = common() | {"length": L, "batch": B, "mem": a.mem, "steps": a.steps, "seconds_per_step": s,
                              "texts_steps_per_second": B / s, "final_loss": loss,
                              "final_accuracy": float(accs.mean()), "min_seconds_per_step": min(times),
                              "warmup": a.warmup, "seed": a.seed}
            print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
