"""The words that ask and the words that count, in one place (folded: Simplified, lower case).

Three readers use them: the lexical tokens drop question words (they carry no topic), the answer
slot (``qa.slots``) reads the measure word after 幾/多少, and a follow-up with a question word of its
own is a question, not an ellipsis (``qa.followup``). Each used to keep its own list, and they
disagreed (多久 asked in one and not in another).
"""

from __future__ import annotations

import re

# Chinese words that ask (after ``text.fold``); 哪 and 几 also start 哪些 / 哪位 / 几次.
QUESTION_WORDS_ZH = (
    "什么", "谁", "哪", "哪些", "几", "多少", "多久", "多高", "多长", "多大", "何", "何时", "如何", "怎", "怎么",
    "怎样", "是否", "吗", "呢", "啥",
)
QUESTION_WORDS_EN = ("how", "what", "which", "who", "whom", "whose", "when", "where", "why")
QUESTION_WORDS = frozenset(QUESTION_WORDS_ZH + QUESTION_WORDS_EN)

# A message holds a question word (folded text). 吗/呢 end a question; they ask nothing on their own
# in the middle of a clause, but a clause that ends with them is a question all the same.
ASKING = re.compile(
    "|".join(sorted(QUESTION_WORDS_ZH, key=len, reverse=True)) + r"|\b(?:" + "|".join(QUESTION_WORDS_EN) + r")\b",
    re.IGNORECASE,
)

# Measure words a count can ask for (幾次, 多少名); 个 is generic and asks only for a number.
MEASURE_WORDS = frozenset("次度回趟名位人员项件国团场天届倍岁家艘架本条号元亿万公里面座所份张枚颗篇笔批部支队")
# Measure words a document may use for the one the question uses (幾次 → "19 度").
MEASURE_SYNONYMS = ("次度回趟", "名位人员", "项件", "天日")
# English counted nouns and the measure word that counts them in Chinese (how many students → 名).
ENGLISH_COUNTED = (
    (r"people|persons|members|officials|delegates|diplomats|lawmakers|legislators|students|scholars|experts|"
     r"journalists|reporters|participants|visitors|tourists|volunteers|workers|residents|citizens|nationals|"
     r"athletes|followers|recipients|applicants|graduates|teachers|doctors|nurses|soldiers|victims|ambassadors", "名"),
    (r"times", "次"),
    (r"medals", "面"),
    (r"passports", "本"),
    (r"ships|vessels|warships", "艘"),
    (r"aircraft|planes|jets", "架"),
    (r"companies|firms|businesses", "家"),
    (r"resolutions|bills|agreements|projects|proposals", "项"),
    (r"countries|nations", "国"),
    (r"days", "天"),
)
