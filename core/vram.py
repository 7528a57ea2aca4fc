"""Peak training memory per GPU, as a breakdown you can act on.

The model follows `shared/reference/vram_formulas.md` (component formulas and the evidence behind
them); every term is computed from the architecture (core/catalog.py), never from a per-model table:

- weights: frozen base weights by dtype. 4-bit NF4 quantizes only the block linears (0.5 B/param for
  the codes + 0.0625 B absmax, or 0.0161 B with double quantization); embeddings, lm_head and norms
  stay 16-bit (or fp32 when PEFT's k-bit preparation upcasts them). Full fine-tuning counts its
  working-dtype weights here too.
- trainable: LoRA adapter weights, or the fp32 master copy of mixed-precision full fine-tuning.
- gradients, optimizer: per trainable parameter (adamw 2x param dtype, 8-bit 2 B, sgd 0 B: the
  Trainer's SGD has no momentum); paged states live in unified memory (counted, but flagged).
- activations: per layer and token 12h + 4 q_dim + 4 kv_dim + 8I (SwiGLU) or 4I (GELU) bytes with
  FlashAttention/SDPA; all layers without checkpointing, the layer inputs (2h per token) plus one
  recomputed layer with Hugging Face checkpointing, one layer with unsloth's offloaded checkpointing.
- logits: the loss over vocabulary x tokens, by loss implementation: ~12 B per logit with HF's fp32
  upcast (bf16 logits, fp32 upcast, saved log-softmax, fp32 gradient), 16 B with an fp32 head, 8 B for a
  16-bit loss without upcast (Qwen v1 remote code), 8 B for litgpt's 128-token lm_head chunks (Fabric
  converts the output to fp32 and each chunk's fp32 log-softmax is saved), a chunk only with unsloth's
  fused loss, no vocabulary term at all with Cut Cross-Entropy.
- 4-bit kernels: bitsandbytes' MatMul4Bit holds the input of every quantized linear for backward (a frozen
  16-bit nn.Linear saves none); torchao's LinearNF4 saves only its weight; fused (unsloth / fms) kernels
  keep one input copy.
- DeepSpeed ZeRO-1/2 (fp16/bf16 mixed precision): fp32 master and gradient partitions per trainable
  parameter, and two reduce buckets of reduce_bucket_size 16-bit elements allocated whole.
- overhead: the dequantization buffer of one layer and kernel workspaces, the caching allocator's
  slack over live tensors, and the CUDA context that only nvidia-smi sees.

GB = 1e9 bytes throughout. The three constants fitted (re-fitted after the terms above) on measured rows are in `FITTED` with where they
came from; see bench/vram_accuracy.py for the split and the accuracy they reach."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.catalog import Arch, resolve_arch

GB = 1e9
BREAKDOWN_KEYS = ("weights_gb", "trainable_gb", "gradients_gb", "optimizer_gb", "activations_gb", "logits_gb", "overhead_gb")
COMFORTABLE = 0.85

Metric = Literal["allocated", "reserved", "nvidia-smi"]

# Constants fitted on the bench's fitting rows (even positions of the measured rows; see the bench).
FITTED = {
    # caching-allocator slack as a share of the dynamic (per-step) memory: reserved - allocated
    "allocator_slack": 0.10,  # grid 0-0.3 on the fitting rows (was 0.15 before the loss/kernel terms)
    # CUDA context + cuBLAS/cuDNN workspaces, invisible to torch statistics (gpu_poor uses 0.65 GB)
    "cuda_context_gb": 0.6,  # grid 0.3-1.0 on the fitting rows (was 0.3)
    # unsloth's fused loss: tokens of logits alive at once (its chunk), per micro-batch
    "unsloth_logit_chunk_tokens": 2048,
}

OPTIMIZER_BYTES = {  # bytes per trainable parameter, given the parameter's dtype width in bytes
    "adamw_torch": lambda w: 2 * w,
    "paged_adamw_32bit": lambda w: 8,
    "adamw_8bit": lambda w: 2,
    "paged_adamw_8bit": lambda w: 2,
    "sgd": lambda w: 0,
    "sgd_momentum": lambda w: w,
}


@dataclass(frozen=True)
class Setup:
    """One training setup. The first block mirrors TrainConfig; the second describes how a framework
    runs it (defaults: tunewiz's own engines) and which number is predicted."""

    method: str = "qlora"  # full | lora | qlora
    bits: int = 4  # frozen base precision: 4, 8, 16 (32 for fp32 full fine-tuning)
    batch_size: int = 2
    seq_len: int = 2048
    lora_r: int = 16
    targets: str = "all"  # attn | qv | all | all+head
    lora_dropout: float = 0.0
    optimizer: str = "adamw_8bit"
    grad_checkpointing: str = "unsloth"  # none | hf | unsloth
    backend: str = "unsloth"  # unsloth | hf
    gpus: int = 1
    sharding: str = "ddp"  # ddp | fsdp (per-GPU figure either way)
    # --- how the framework runs it --------------------------------------------------------------
    full_precision: str = "bf16"  # bf16: pure bf16 weights/grads/states; amp: fp32 master weights
    adapter_bytes: int = 4  # LoRA weights/grads dtype (PEFT keeps adapters fp32; litgpt bf16-true: 2)
    double_quant: bool = True
    quant_format: str = "nf4"  # nf4 | gptq
    quant_kernel: str = "bnb"  # bnb (MatMul4Bit holds its inputs) | torchao (LinearNF4 saves none) | fused (triton)
    quantize_head: bool = False  # torchao/torchtune QLoRA keeps lm_head bf16 too; bnb never quantizes it
    upcast_fp32: bool = False  # PEFT prepare_model_for_kbit_training: non-quantized params to fp32
    train_embeddings: bool = False  # modules_to_save embed_tokens + lm_head (continued pretraining)
    loss: str = "auto"  # auto | full | chunked | fused | chunked_head (litgpt) | cce (cut cross-entropy)
    logits_upcast: bool = True  # HF modeling code casts logits to fp32 before the loss; Qwen v1 remote code does not
    zero_stage: int = 0  # DeepSpeed ZeRO stage (0: no DeepSpeed); 1/2 add fp32 master + grad partitions + buckets
    zero_bucket_elems: float = 2e8  # reduce_bucket_size of the DeepSpeed config (HF / Qwen ds_config_zero2.json: 2e8)
    eager_attention: bool = False  # the s^2 attention-score term (no FlashAttention / SDPA)
    activation_offload: bool = False
    optimizer_in_backward: bool = False
    fused_optimizer: bool = False  # torch AdamW(fused=True): no foreach temporaries in the step
    fused_qkv: bool = False  # litgpt: one qkv linear, so one LoRA-dropout copy of its input
    compiled: bool = False  # torch.compile fuses elementwise ops: torchtune 60.0 -> 51.0 GiB (-25% of acts+logits)
    paged_states_visible: bool = True  # torch statistics do not see bnb paged states
    metric: Metric = "nvidia-smi"

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len


@dataclass
class Estimate:
    """A peak-memory estimate: total, breakdown (GB), the verdict for a card and the notes behind it."""

    total_gb: float
    breakdown: dict[str, float]
    setup: Setup
    arch: Arch
    gpu_total_gb: float | None = None
    notes: list[str] = field(default_factory=list)
    gpu: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        return verdict_for(self.total_gb, self.gpu_total_gb)

    @property
    def fraction(self) -> float | None:
        return self.total_gb / self.gpu_total_gb if self.gpu_total_gb else None

    def to_json(self) -> dict[str, Any]:
        s = self.setup
        return {
            "model": self.arch.id,
            "method": s.method,
            "bits": s.bits,
            "total_gb": round(self.total_gb, 2),
            "breakdown": {k: round(v, 2) for k, v in self.breakdown.items()},
            "verdict": self.verdict,
            "gpu": self.gpu or ({"memory_gb": self.gpu_total_gb} if self.gpu_total_gb else None),
            "settings": {
                "batch_size": s.batch_size, "seq_len": s.seq_len, "lora_r": s.lora_r, "targets": s.targets,
                "optimizer": s.optimizer, "grad_checkpointing": s.grad_checkpointing, "backend": s.backend,
                "gpus": s.gpus, "sharding": s.sharding,
            },
            "params_b": round(self.arch.params_b, 3),
            "trainable_params": trainable_params(self.arch, s),
            "notes": list(self.notes),
        }


def verdict_for(total_gb: float, gpu_total_gb: float | None) -> str:
    """comfortable below 85% of the card, tight from 85% to 100%, does not fit above."""
    if not gpu_total_gb:
        return "unknown"
    frac = total_gb / gpu_total_gb
    if frac < COMFORTABLE:
        return "comfortable"
    if frac <= 1.0:
        return "tight"
    return "does not fit"


def trainable_params(arch: Arch, s: Setup) -> int:
    if s.method == "full":
        return arch.params
    n = arch.lora_params(s.lora_r, s.targets)
    if s.train_embeddings:
        n += arch.embed_params + arch.head_params
    return n


def _quant_bytes_per_param(s: Setup) -> float:
    if s.bits == 4:
        if s.quant_format == "gptq":  # 4-bit codes + fp16 scale and packed zero per group of 128
            return 0.5 + (2 + 0.5) / 128
        return 0.5 + (0.0161 if s.double_quant else 0.0625)
    if s.bits == 8:
        return 1.0 + 4 / 4096  # LLM.int8 codes + per-row fp32 scales (negligible)
    return s.bits / 8


def weight_bytes(arch: Arch, s: Setup) -> float:
    """Frozen (or, for full fine-tuning, working-dtype) model weights on one GPU, before sharding."""
    if s.method == "full":
        width = 4 if (s.bits == 32 or s.full_precision == "fp32") else 2
        return arch.params * width
    linear = arch.linear_params
    rest = arch.embed_params + arch.head_params + arch.other_params
    if s.method == "lora" and s.bits >= 16:
        base = arch.params * 2
    else:
        per = _quant_bytes_per_param(s)
        if s.quantize_head and s.bits == 4:
            linear += arch.head_params
            rest -= arch.head_params
        base = linear * per + rest * 2
    if s.upcast_fp32 and s.method != "full":
        base += (arch.embed_params + arch.head_params + arch.other_params) * 2  # bf16 -> fp32
    if s.train_embeddings:
        base -= (arch.embed_params + arch.head_params) * (4 if s.upcast_fp32 else 2)  # counted as trainable
    return base


def activation_bytes_per_token_layer(arch: Arch, s: Setup) -> float:
    """Bytes autograd keeps per token for one block (bf16 tensors; FlashAttention/SDPA)."""
    fused_kernels = s.backend == "unsloth"
    # unsloth's Triton SwiGLU saves only gate and up (recomputes the product) and its RMSNorm saves the
    # bf16 input without an fp32 upcast
    mlp = (4 if (not arch.gated_mlp or fused_kernels) else 8) * arch.intermediate
    norms = 8 * arch.hidden if (arch.parallel_block or fused_kernels) else 12 * arch.hidden
    per = norms + 4 * arch.q_dim + 4 * arch.kv_dim + mlp
    if s.eager_attention:
        per += 5 * arch.heads * s.seq_len  # attention scores, softmax and dropout mask
    if s.method != "full" and s.bits == 4:
        if s.quant_format == "nf4" and s.quant_kernel == "bnb" and not fused_kernels:
            # bitsandbytes' MatMul4Bit holds the input of every quantized linear (ctx.tensors) even though the
            # weight is frozen, where a frozen 16-bit nn.Linear saves nothing: the attention input (2h), the
            # re-laid-out attention output feeding o_proj (2 q_dim), the MLP input (2h, shared by gate/up, or
            # fc) and the down-projection input (2I); one of the normed inputs was already counted above.
            per += 2 * arch.hidden + 2 * arch.q_dim + 2 * arch.intermediate
        elif s.quant_kernel != "torchao":  # torchao's LinearNF4 saves only the NF4 weight
            per += 2 * arch.hidden  # the 4-bit matmul keeps its own bf16 input copy for backward
    if s.method != "full" and s.lora_dropout > 0:
        widths = arch.lora_input_widths(s.targets)
        if s.fused_qkv:
            widths -= (1 if s.targets == "qv" else 2) * arch.hidden
        per += 3 * widths  # dropped bf16 copy + bool mask per adapted input
    return per


def _loss_mode(s: Setup) -> str:
    if s.loss != "auto":
        return s.loss
    return "fused" if s.backend == "unsloth" else "full"


def logits_bytes(arch: Arch, s: Setup) -> float:
    mode = _loss_mode(s)
    head_fp32 = s.upcast_fp32 and s.method != "full" or s.full_precision == "fp32"
    if mode == "chunked_head":
        # litgpt: lm_head runs per 128-token chunk; Fabric's precision plugin (bf16-true and bnb alike) converts
        # the model output to the default dtype, so every chunk becomes fp32 (4 B) and its cross-entropy saves an
        # fp32 log-softmax (4 B); both stay alive for every token until backward, while the gradients exist one
        # chunk at a time. Soft-capping keeps its bf16 tanh output (2 B) as well.
        per = 8 + (2 if arch.logit_softcap else 0)
        return per * (2 if head_fp32 else 1) * s.tokens * arch.vocab
    if mode == "cce":
        # Cut Cross-Entropy never materialises logits: it keeps the fp32 log-sum-exp per token and writes an
        # fp32 gradient of the hidden states (vocabulary-independent)
        return (4 + 4 * arch.hidden) * s.tokens
    if head_fp32:
        per_logit = 16
    elif s.logits_upcast:
        per_logit = 12  # bf16 logits, fp32 upcast, saved fp32 log-softmax, fp32 gradient
    else:
        # no upcast (Qwen v1 remote code): logits kept in the model output (2), saved log-softmax (2), its
        # gradient from the NLL backward (2) and the gradient of the logits (2)
        per_logit = 8
    if arch.logit_softcap:
        per_logit += 6  # bf16 tanh input, output and scaled copy kept for backward
    if s.method != "full" and s.targets == "all+head":
        per_logit += 4  # the lm_head adapter's vocabulary-sized output and its gradient
    if mode == "full":
        return per_logit * s.tokens * arch.vocab
    if mode == "chunked":  # bf16 logits kept for every token, fp32 upcast + log-softmax on one of 8 chunks
        return (2 + 8 / 8) * s.tokens * arch.vocab
    chunk = min(s.tokens, FITTED["unsloth_logit_chunk_tokens"])
    return per_logit * chunk * arch.vocab  # fused: one chunk of tokens at a time


def estimate(arch: Arch, setup: Setup, *, gpu_total_gb: float | None = None, gpu: dict | None = None) -> Estimate:
    """Peak memory per GPU for `setup` on `arch`, as `setup.metric` would report it."""
    s = setup
    notes: list[str] = []
    n_train = trainable_params(arch, s)
    shard = s.gpus if (s.sharding == "fsdp" and s.gpus > 1) else 1

    weights = weight_bytes(arch, s)
    if s.method == "full":
        pw = 4 if (s.bits == 32 or s.full_precision == "fp32") else 2
        trainable = arch.params * 4 if s.full_precision == "amp" else 0.0  # fp32 master copy
        state_width = 4 if s.full_precision in ("amp", "fp32") or s.bits == 32 else pw
        grads = n_train * state_width
    else:
        pw = s.adapter_bytes
        state_width = pw
        emb = (arch.embed_params + arch.head_params) if s.train_embeddings else 0
        trainable = (n_train - emb) * pw + emb * (4 if s.upcast_fp32 else 2)
        grads = (n_train - emb) * pw + emb * (4 if s.upcast_fp32 else 2)
    opt_fn = OPTIMIZER_BYTES.get(s.optimizer, OPTIMIZER_BYTES["adamw_torch"])
    optimizer = n_train * opt_fn(state_width)
    zero_buckets = 0.0
    if s.zero_stage in (1, 2):
        # DeepSpeed ZeRO-1/2 mixed precision: the module runs in 16 bit, the optimizer owns an fp32 master
        # partition and fp32 Adam states; gradients land in 16-bit partitions and are cast to an fp32 partition
        # for the step. With contiguous_gradients + overlap_comm two reduce buckets of reduce_bucket_size
        # 16-bit elements are allocated whole, however few parameters train.
        work = 2 if s.method != "full" else 0  # full FT: the 16-bit weights are already in `weights`
        trainable = n_train * (work + 4)
        grads = n_train * (2 + 4)
        optimizer = n_train * opt_fn(4)
        zero_buckets = 2 * s.zero_bucket_elems * 2
        notes.append(f"DeepSpeed ZeRO-{s.zero_stage}: fp32 master weights and {zero_buckets / GB:.1f} GB of gradient buckets")
    if s.optimizer == "adamw_torch" and not s.fused_optimizer:
        optimizer += n_train * state_width  # foreach AdamW's step temporaries (one parameter-sized list)
    if s.optimizer.startswith("paged"):
        notes.append("paged optimizer states live in CUDA unified memory and can spill to host RAM")
        if not s.paged_states_visible:
            optimizer = 0.0
    if s.optimizer_in_backward:
        grads = min(grads, (arch.embed_params + arch.head_params) * state_width)  # one tensor's gradient at a time
    if shard > 1:
        weights, trainable, grads, optimizer = (x / shard for x in (weights, trainable, grads, optimizer))
        # all-gathered parameters of the current and the prefetched block
        weights += 2 * arch.linear_params_per_layer() * (2 if s.method == "full" else 1)
        notes.append(f"FSDP full sharding over {s.gpus} GPUs: weights, gradients and optimizer states split {shard} ways")
    elif s.gpus > 1:
        grads *= 2  # DDP's gradient buckets hold a second copy
        notes.append(f"DDP over {s.gpus} GPUs: every GPU holds the full model; figure is per GPU")

    # activations of one micro-batch
    per_layer = activation_bytes_per_token_layer(arch, s) * s.tokens
    layer_inputs = 2 * arch.hidden * s.tokens
    if s.grad_checkpointing == "none":
        acts = arch.layers * per_layer
        if s.activation_offload:
            acts = 2 * per_layer
    elif s.grad_checkpointing == "unsloth" or s.activation_offload:
        acts = per_layer  # layer inputs offloaded to CPU; one layer recomputed at a time
    else:
        acts = arch.layers * layer_inputs + per_layer
    acts += 2 * layer_inputs  # embeddings output and the final norm
    logits = logits_bytes(arch, s)
    if s.compiled:
        acts, logits = acts * 0.75, logits * 0.75
    if _loss_mode(s) == "full" and arch.vocab >= 100_000:
        notes.append(f"logits over a {arch.vocab:,}-token vocabulary are {logits / GB:.1f} GB of the peak")

    if s.method == "full":
        # Gradients fill memory that backward frees from activations and logits; only the excess adds.
        overlap = min(grads, acts + logits)
        if overlap > 0:
            notes.append(f"{overlap / GB:.1f} GB of gradients reuse memory freed from activations during backward")
        grads -= overlap

    # overhead: dequantized layer + workspaces; allocator slack; CUDA context
    overhead = zero_buckets
    if s.method != "full" and s.bits < 16:
        overhead += arch.hidden * arch.intermediate * 2 * 2  # one MLP weight dequantized (+ its grad path)
    dynamic = acts + logits + grads
    if s.metric in ("reserved", "nvidia-smi"):
        overhead += FITTED["allocator_slack"] * dynamic
    if s.metric == "nvidia-smi":
        overhead += FITTED["cuda_context_gb"] * GB

    breakdown = {
        "weights_gb": weights / GB,
        "trainable_gb": trainable / GB,
        "gradients_gb": grads / GB,
        "optimizer_gb": optimizer / GB,
        "activations_gb": acts / GB,
        "logits_gb": logits / GB,
        "overhead_gb": overhead / GB,
    }
    total = sum(breakdown.values())
    return Estimate(total, breakdown, s, arch, gpu_total_gb, notes, gpu)


# --- the training engine's entry point -------------------------------------------------------------

def setup_from_config(config, *, gpus: int | None = None, backend: str | None = None) -> Setup:
    """A Setup from a core.config.TrainConfig (backend `auto` plans as unsloth when it is installed)."""
    b = backend or config.backend
    if b == "auto":
        import importlib.util

        b = "unsloth" if importlib.util.find_spec("unsloth") is not None else "hf"
    bits = config.bits
    if config.method == "qlora" and bits not in (4, 8):
        bits = 4
    if config.method == "lora" and bits < 16:
        bits = 16
    return Setup(
        method=config.method, bits=bits, batch_size=config.batch_size, seq_len=config.max_seq_length,
        lora_r=config.lora_r, targets=config.targets, optimizer=config.optimizer,
        grad_checkpointing=config.grad_checkpointing, backend=b, gpus=gpus or config.gpus,
    )


def estimate_for_config(config, *, arch: Arch | None = None, gpu_total_gb: float | None = None) -> Estimate:
    """Estimate for a TrainConfig: what the engine calls to rank OOM recovery options. `arch` defaults
    to resolving `config.base_model` (catalog, local config.json, HF cache; never downloads weights)."""
    arch = arch or resolve_arch(config.base_model, allow_download=False)
    if gpu_total_gb is None:
        from core.hardware import resolve_gpu

        try:
            gpu_total_gb = resolve_gpu(config.gpu)["memory_gb"]
        except Exception:
            gpu_total_gb = None
    return estimate(arch, setup_from_config(config), gpu_total_gb=gpu_total_gb)


def with_changes(setup: Setup, **changes) -> Setup:
    return replace(setup, **changes)
