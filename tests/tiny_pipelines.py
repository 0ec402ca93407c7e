"""Tiny random-weight diffusers pipelines, built entirely in code for offline CPU tests.

Each ``build_*`` function constructs a pipeline from tiny configs (tokenizers included, no hub access,
no files from outside), puts every ``nn.Module`` in eval mode, saves it with ``save_pretrained`` into the
given folder and returns that folder. The folders load back with the real ``from_pretrained``.

Contract and limits:

* Deterministic: ``torch.manual_seed(0)`` precedes every model construction, so two builds give identical
  weights. Tokenizers are hand-made (no training), so they are identical too.
* Every tokenizer has a real vocabulary of more than 100 tokens (``len(tokenizer) > 100``).
* All VAEs have 4 blocks (``vae_scale_factor == 8``), like the real models; 64x64 (8x8 latents) is the
  intended test size. Flux/FLUX.2 sizes are rounded down to multiples of 16. FLUX.2 reference images must
  be at least 64x64 (diffusers' ``check_image_input``).
* CLIP tokenizers have ``model_max_length == 77``.
* T5 (flux-schnell, kontext): any ``max_sequence_length`` up to 512 (diffusers' own limit) works;
  tests use 128.
* FLUX.2 / klein: up to 512 works; use ``max_sequence_length >= 128``. The FLUX.2 system prompt takes
  about 40 tokens of the tiny Mistral vocabulary, and klein's chat template about 15, so smaller values
  may truncate the prompt.
  The text encoders have 30 (FLUX.2) and 27 (klein) layers, so the default ``text_encoder_out_layers``
  (10, 20, 30) and (9, 18, 27) work, and ``joint_attention_dim == 3 * text hidden size``.
* Kontext: pass ``max_area=height * width`` and ``_auto_resize=False``, otherwise the output is ~1024x1024.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLFlux2,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    Flux2KleinPipeline,
    Flux2Pipeline,
    Flux2Transformer2DModel,
    FluxKontextPipeline,
    FluxPipeline,
    FluxTransformer2DModel,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.pipelines.flux2.system_messages import SYSTEM_MESSAGE
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    Mistral3Config,
    Mistral3ForConditionalGeneration,
    Qwen2Tokenizer,
    Qwen3Config,
    Qwen3ForCausalLM,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)
from transformers.tokenization_utils_tokenizers import TokenizersBackend

__all__ = [
    "build_all",
    "build_flux2",
    "build_flux2_klein",
    "build_flux_schnell",
    "build_kontext",
    "build_sdxl",
]

# Words that get their own tokens, so that prompts (and the FLUX.2 system prompt) tokenize compactly.
_CORPUS = (
    "a an the of and with in on at to for from by is are this that photo picture image painting drawing "
    "portrait landscape close up cat dog bird horse fish tree forest mountain river lake sea ocean beach sky "
    "cloud sun moon star city street house car boat red green blue yellow white black orange purple pink "
    "brown gray bright dark small big large old young man woman child person face hand eye hair sitting "
    "standing walking running dancing flying high quality detailed realistic style art light shadow night "
    "day morning evening snow rain water fire flower grass field garden room table chair window door wall "
    "make change add remove turn into replace background foreground keep same user assistant " + SYSTEM_MESSAGE
)
# FLUX.2 / klein chat tokens, registered as special tokens of the byte-level BPE tokenizers.
_MISTRAL_SPECIALS = (
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "[IMG]", "[IMG_BREAK]", "[IMG_END]", "<pad>",
)  # fmt: skip
_QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_QWEN_THINK_TOKENS = ("<think>", "</think>")

_MISTRAL_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- set ns = namespace(text='') %}"
    "{%- if message['content'] is string %}{%- set ns.text = message['content'] %}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{%- set ns.text = ns.text + part['text'] %}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'system' %}{{- '[SYSTEM_PROMPT]' + ns.text + '[/SYSTEM_PROMPT]' }}"
    "{%- elif message['role'] == 'user' %}{{- '[INST]' + ns.text + '[/INST]' }}"
    "{%- else %}{{- ns.text + eos_token }}{%- endif %}"
    "{%- endfor %}"
)
_QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- set ns = namespace(text='') %}"
    "{%- if message['content'] is string %}{%- set ns.text = message['content'] %}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{%- set ns.text = ns.text + part['text'] %}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + ns.text + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}{%- endif %}"
)


# --------------------------------------------------------------------------------------------- tokenizers
def _words() -> list[str]:
    """Sorted, de-duplicated lowercase words of the corpus (letters only)."""
    cleaned = "".join(c.lower() if c.isalpha() else " " for c in _CORPUS)
    return sorted(set(cleaned.split()))


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 characters byte-level BPE uses for raw bytes."""
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def _bpe_segment(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Apply BPE merges (lowest rank first, leftmost on ties) to ``symbols``, like ``tokenizers`` does."""
    symbols = list(symbols)
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(pairwise(symbols))]
        candidates = [(rank, i) for rank, i in pairs if rank is not None]
        if not candidates:
            break
        _, i = min(candidates)
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def _byte_level_bpe(word_prefix: str, word_suffix: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE vocab and merges: the 256 byte characters plus one whole token per corpus word.

    ``word_prefix`` is prepended to every word ("Ġ", GPT-2's space marker; the bare word gets a token too);
    ``word_suffix`` is an end-of-word suffix (CLIP's "</w>"), in which case every byte character also exists
    with the suffix. Merges are appended so that each word, run through the earlier merges, ends as one token.
    """
    base = _byte_chars()
    vocab: dict[str, int] = {c: i for i, c in enumerate(base)}
    if word_suffix:
        for c in base:
            vocab[c + word_suffix] = len(vocab)
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    variants = [word_prefix + w for w in _words()]
    if word_prefix:
        variants += _words()
    for word in variants:
        symbols = list(word)
        symbols[-1] += word_suffix
        while len(segments := _bpe_segment(symbols, ranks)) > 1:
            pair = (segments[0], segments[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab.setdefault(pair[0] + pair[1], len(vocab))
    return vocab, merges


def _clip_tokenizer() -> CLIPTokenizer:
    """CLIP byte-level BPE tokenizer (~960 tokens), bos/eos last like the real CLIP vocab."""
    vocab, merges = _byte_level_bpe(word_prefix="", word_suffix="</w>")
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _t5_tokenizer() -> T5Tokenizer:
    """T5 unigram tokenizer (~290 pieces): ``<pad>``=0, ``</s>``=1, ``<unk>``=2, characters, whole words."""
    pieces: list[tuple[str, float]] = [
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        ("▁", -3.0),
    ]
    chars = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    pieces += [(c, -10.0) for c in chars]
    pieces += [("▁" + c, -9.0) for c in chars if c.isalnum()]
    pieces += [("▁" + w, -5.0) for w in _words() if len(w) > 1]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def _special_bpe(specials: tuple[str, ...]) -> Tokenizer:
    """GPT-2 style byte-level BPE ``tokenizers.Tokenizer`` whose first ids are ``specials``."""
    words_vocab, merges = _byte_level_bpe(word_prefix="Ġ", word_suffix="")
    vocab = {token: i for i, token in enumerate(specials)}
    for token in words_vocab:  # insertion order == old ids, so the new ids stay sorted
        vocab[token] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def _mistral_tokenizer() -> TokenizersBackend:
    """FLUX.2 text tokenizer: byte-level BPE with Mistral chat tokens and a system/user chat template.

    Real FLUX.2 folders hold a PixtralProcessor, which cannot be built without torchvision; Flux2Pipeline only
    calls ``tokenizer.apply_chat_template(..., tokenize=True, return_dict=True, padding=..., truncation=...)``,
    which a plain tokenizer supports.
    """
    return TokenizersBackend(
        tokenizer_object=_special_bpe(_MISTRAL_SPECIALS),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        chat_template=_MISTRAL_CHAT_TEMPLATE,
        model_max_length=131072,
    )


def _qwen_tokenizer() -> Qwen2Tokenizer:
    """klein text tokenizer: Qwen2 byte-level BPE with ChatML tokens and an ``enable_thinking`` template."""
    vocab, merges = _byte_level_bpe(word_prefix="Ġ", word_suffix="")
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        chat_template=_QWEN_CHAT_TEMPLATE,
        model_max_length=40960,
    )
    tok.add_tokens(
        [AddedToken(t, special=True, normalized=False) for t in _QWEN_SPECIALS],
        special_tokens=True,
    )
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in _QWEN_THINK_TOKENS])
    return tok


# ------------------------------------------------------------------------------------------------- models
def _clip_text_config(tokenizer: CLIPTokenizer) -> CLIPTextConfig:
    """Tiny CLIP text config (hidden 32, 5 layers) whose special ids match ``tokenizer``."""
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        projection_dim=32,
        num_hidden_layers=5,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _t5_encoder(tokenizer: T5Tokenizer) -> T5EncoderModel:
    """Tiny T5 v1.1-style encoder (d_model 32, 2 layers)."""
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        feed_forward_proj="gated-gelu",
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    return T5EncoderModel(config)


def _vae_kwargs() -> dict:
    """Shared tiny 4-block VAE layout (vae_scale_factor 8)."""
    return {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "block_out_channels": (8, 8, 16, 16),
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "sample_size": 64,
    }


def _flux1_components(guidance_embeds: bool) -> dict:
    """Components shared by FluxPipeline and FluxKontextPipeline (scheduler excluded)."""
    tokenizer = _clip_tokenizer()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(tokenizer))
    tokenizer_2 = _t5_tokenizer()
    text_encoder_2 = _t5_encoder(tokenizer_2)
    torch.manual_seed(0)
    vae = AutoencoderKL(
        **_vae_kwargs(),
        latent_channels=16,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,  # 16 latent channels x 2x2 packing
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,  # T5 d_model
        pooled_projection_dim=32,  # CLIP hidden size
        guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 6, 6),  # sums to attention_head_dim
    )
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tokenizer_2,
        "transformer": transformer,
    }


def _flux2_transformer(joint_attention_dim: int, guidance_embeds: bool) -> Flux2Transformer2DModel:
    """Tiny FLUX.2 transformer for 32 latent channels (in_channels 128 after 2x2 patchify)."""
    torch.manual_seed(0)
    return Flux2Transformer2DModel(
        patch_size=1,
        in_channels=128,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=joint_attention_dim,
        timestep_guidance_channels=256,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=guidance_embeds,
    )


def _flux2_vae() -> AutoencoderKLFlux2:
    """Tiny FLUX.2 VAE: 32 latent channels, 4 blocks."""
    torch.manual_seed(0)
    return AutoencoderKLFlux2(**_vae_kwargs(), latent_channels=32)


def _flow_scheduler(dynamic_shifting: bool) -> FlowMatchEulerDiscreteScheduler:
    """Flow-matching scheduler with the real FLUX configs (dev/Kontext/FLUX.2: dynamic; schnell: shift 1)."""
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0 if dynamic_shifting else 1.0,
        use_dynamic_shifting=dynamic_shifting,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def _save(pipe: DiffusionPipeline, path: Path) -> Path:
    """Put every nn.Module component in eval mode, save the pipeline to ``path`` and return ``path``."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(path)
    return path


# ------------------------------------------------------------------------------------------ public builders
def build_sdxl(path: Path) -> Path:
    """Build a tiny StableDiffusionXLPipeline (UNet, 4-channel VAE, 2 CLIP encoders, Euler) into ``path``."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,  # 64 px / vae_scale_factor 8
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,  # 6 * addition_time_embed_dim + text_encoder_2 projection
        cross_attention_dim=64,  # hidden of text_encoder + text_encoder_2
        norm_num_groups=8,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(**_vae_kwargs(), latent_channels=4, scaling_factor=0.13025)
    tokenizer = _clip_tokenizer()
    tokenizer_2 = _clip_tokenizer()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(tokenizer))
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_text_config(tokenizer_2))
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
        interpolation_type="linear",
        prediction_type="epsilon",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
    )
    return _save(pipe, path)


def build_kontext(path: Path) -> Path:
    """Build a tiny FluxKontextPipeline (guidance-embedding transformer, CLIP + T5, 16-ch VAE) into ``path``."""
    pipe = FluxKontextPipeline(scheduler=_flow_scheduler(True), **_flux1_components(guidance_embeds=True))
    return _save(pipe, path)


def build_flux_schnell(path: Path) -> Path:
    """Build a tiny schnell-style FluxPipeline (no guidance embedding, static shift 1.0) into ``path``."""
    pipe = FluxPipeline(scheduler=_flow_scheduler(False), **_flux1_components(guidance_embeds=False))
    return _save(pipe, path)


def build_flux2(path: Path) -> Path:
    """Build a tiny Flux2Pipeline (Mistral3 text encoder with 30 layers, hidden 16) into ``path``."""
    tokenizer = _mistral_tokenizer()
    hidden = 16
    config = Mistral3Config(
        text_config={
            "model_type": "mistral",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 37,
            "num_hidden_layers": 30,  # text_encoder_out_layers default (10, 20, 30)
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 4,
            "max_position_embeddings": 1024,
            "rms_norm_eps": 1e-5,
            "rope_theta": 1000000000.0,
            "sliding_window": None,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "model_type": "pixtral",
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "head_dim": 4,
            "intermediate_size": 37,
            "image_size": 32,
            "patch_size": 8,
            "num_channels": 3,
        },
        image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"),
        vision_feature_layer=-1,
        spatial_merge_size=2,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(0)
    text_encoder = Mistral3ForConditionalGeneration(config)
    pipe = Flux2Pipeline(
        scheduler=_flow_scheduler(True),
        vae=_flux2_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=_flux2_transformer(joint_attention_dim=3 * hidden, guidance_embeds=True),
    )
    return _save(pipe, path)


def build_flux2_klein(path: Path, distilled: bool = True) -> Path:
    """Build a tiny Flux2KleinPipeline (Qwen3 with 27 layers, hidden 16) into ``path``.

    ``distilled`` is saved as ``is_distilled`` in model_index.json (True: no CFG, like FLUX.2 klein 4B/9B).
    """
    tokenizer = _qwen_tokenizer()
    hidden = 16
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=37,
        num_hidden_layers=27,  # text_encoder_out_layers default (9, 18, 27)
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=4,
        max_position_embeddings=1024,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    text_encoder = Qwen3ForCausalLM(config)
    pipe = Flux2KleinPipeline(
        scheduler=_flow_scheduler(True),
        vae=_flux2_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=_flux2_transformer(joint_attention_dim=3 * hidden, guidance_embeds=False),
        is_distilled=distilled,
    )
    return _save(pipe, path)


def build_all(root: Path) -> dict[str, Path]:
    """Build every tiny pipeline into ``root/<key>``; keys: sdxl, kontext, flux-schnell, flux2, flux2-klein."""
    root = Path(root)
    return {
        "sdxl": build_sdxl(root / "sdxl"),
        "kontext": build_kontext(root / "kontext"),
        "flux-schnell": build_flux_schnell(root / "flux-schnell"),
        "flux2": build_flux2(root / "flux2"),
        "flux2-klein": build_flux2_klein(root / "flux2-klein"),
    }
