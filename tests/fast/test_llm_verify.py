"""The generative answer's verifier on hand-made passages: polarity, repetition, length, term support.

No endpoint: ``GenerativeAnswerer.verify`` reads a reply as the model would send it. The passages
below are a policy of the kind the security probe indexed (probe-6c2afaa N4).
"""

from __future__ import annotations

import re

import pytest

from citeqa.corpus import Passage
from citeqa.qa.generative import GenerativeAnswerer, LLMSettings, contradicts
from citeqa.qa.types import Answer, Hit

POLICY = "出差住宿費每晚上限為新台幣三千元，須檢附收據報支。員工停車費每月補助新台幣五百元，須於月底前申請。"
RULES = "".join(f"第{n}條規定第{n}類會員每年可借閱圖書{n}0冊。" for n in range(1, 11))  # ten distinct sentences


def _hit(text: str) -> Hit:
    return Hit(Passage("p1", "policy.txt", ("總則",), "總則 ¶1", text, 0, len(text)), 1.0)


@pytest.fixture(scope="module")
def verifier(fake_engine) -> GenerativeAnswerer:
    return GenerativeAnswerer(fake_engine.answerer, None, LLMSettings("http://127.0.0.1:9/v1", "none"))


@pytest.mark.parametrize(
    ("sentence", "passage_sentence", "expected"),
    [
        ("出差住宿費每晚上限為新台幣三千元，不須檢附收據，也不必報支", POLICY.split("。")[0] + "。", True),
        ("停車費補助已經取消，公司不再發放新台幣五百元", POLICY.split("。")[1] + "。", True),
        ("出差住宿費須檢附收據", "出差住宿費無須檢附收據。", True),  # the passage says no, the sentence does not
        ("停車費每月補助新台幣五百元", POLICY.split("。")[1] + "。", False),  # faithful
        ("住宿費不須檢附收據", "住宿費免附收據。", False),  # both say no, in other words
        ("我國持續不斷推動與非洲的合作", "我國持續推動與非洲的合作。", False),  # 不斷, 非洲: no negation
        ("Receipts are not required", "Receipts are required.", True),
        ("You don't need a receipt", "You need a receipt.", True),
        ("You need a receipt", "A receipt is needed.", False),
    ],
)
def test_contradicts_is_opposite_polarity(sentence, passage_sentence, expected):
    assert contradicts(sentence, passage_sentence) is expected


@pytest.mark.parametrize(
    "reply",
    [
        "出差住宿費每晚上限為新台幣三千元，不須檢附收據，也不必報支[1]。",
        "停車費補助已經取消，公司不再發放新台幣五百元[1]。",
    ],
)
def test_a_reply_that_contradicts_its_passage_is_not_verified(verifier, reply):
    assert verifier.verify("出差住宿費上限多少？要收據嗎？", reply, [_hit(POLICY)]) is None


def test_a_faithful_paraphrase_is_kept_and_quotes_the_sentence_it_restates(verifier):
    reply = "停車費每月補助新台幣五百元[1]。停車費補助已經取消，公司不再發放新台幣五百元[1]。"
    a = verifier.verify("停車費補助多少？", reply, [_hit(POLICY)])
    assert a is not None and a.answer == "停車費每月補助新台幣五百元[1]。"
    quote = POLICY[a.citations[0].quote_start : a.citations[0].quote_end]
    assert quote.startswith("員工停車費")


def test_most_of_a_sentences_key_terms_must_be_its_passages(verifier):
    """Two thirds of the terms supported is not enough: half a sentence of new claims is not a restatement."""
    reply = "停車費每月補助新台幣五百元，另有交通津貼與伙食補貼[1]。"
    assert verifier.verify("停車費補助多少？", reply, [_hit(POLICY)]) is None


def test_a_repeated_sentence_is_kept_once(verifier):
    once = "停車費每月補助新台幣五百元[1]。"
    reply = (once + "停車費 每月補助新台幣五百元！[1]\n" + "停車費每月補助，新台幣五百元[1]。") * 500
    a = verifier.verify("停車費補助多少？", reply, [_hit(POLICY)])
    assert a is not None and a.answer == once


def test_the_answer_is_capped(verifier):
    """Ten supported, distinct sentences: at most four are kept, and never more than 600 characters."""
    reply = "".join(f"第{n}條規定第{n}類會員每年可借閱圖書{n}0冊[1]。" for n in range(1, 11))
    a = verifier.verify("會員可借幾冊？", reply, [_hit(RULES)])
    assert a is not None and a.answer.startswith("第1條規定第1類會員每年可借閱圖書10冊[1]。")
    assert len(re.findall(r"\[1\]", a.answer)) == verifier.settings.max_sentences == 4
    long = "，".join(["第1條規定第1類會員每年可借閱圖書10冊"] * 40) + "[1]。"
    assert verifier.verify("會員可借幾冊？", long, [_hit(RULES)]) is None  # one 600+ character sentence


def test_every_answer_dict_has_confidence():
    d = Answer("q", "a", False, ()).to_dict()
    assert "confidence" in d and d["confidence"] is None
    assert Answer("q", "a[1]", True, (), confidence=0.5).to_dict()["confidence"] == 0.5
