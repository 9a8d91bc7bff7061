"""Language support shared by the stages: script folding, the lexical tokenizer, sentences."""

from citeqa.text.fold import fold, has_cjk
from citeqa.text.lexicon import STOPWORDS, Tokenizer, quoted_terms
from citeqa.text.sentences import sentence_spans

__all__ = ["STOPWORDS", "Tokenizer", "fold", "has_cjk", "quoted_terms", "sentence_spans"]
