"""Hand-curated chat and dialect words the news-trained model cannot learn.

Weights are log-odds added to the model's score (positive = Nynorsk, negative = Bokmål).
Every word listed here is scored as a whole word, never by its letters, so the neutral
words below (weight 0.0) give no evidence either way.
"""

from __future__ import annotations

# Word pairs (lower case). Nynorsk "de" is the polite/plural "you" (Bokmål "dere"); in a
# question to the municipality "har de", "kan de" address the municipality.
# The weight outweighs the news-trained model's "de" (Bokmål "they"/"the" in news text).
PAIR_MARKERS: dict[str, float] = {
    f"{verb} de": 3.0 for verb in ("har", "kan", "vil", "er", "veit", "må", "skal", "tek", "gjer", "treng", "sender")
}

MARKERS: dict[str, float] = {
    # Nynorsk question words and western dialect spellings. "ka", "ke", "koss" and "koffor"
    # are also said in the north and in cities that write Bokmål: weak evidence only.
    "kva": 1.5, "korleis": 2.0, "kvar": 1.0, "kven": 1.5, "kvifor": 2.0, "kor": 1.5,
    "kordan": 1.5, "korfor": 1.5, "kossen": 1.0, "koss": 0.5, "koffor": 0.5, "kofor": 0.5,
    "ka": 0.5, "ke": 0.3, "mykje": 1.5,
    # Bokmål question words and eastern/northern chat spellings.
    "hva": -1.5, "hvordan": -2.0, "hvor": -1.5, "hvem": -1.5, "hvorfor": -2.0,
    "åssen": -2.0, "åssn": -2.0, "hvafor": -1.5, "va": -0.5, "kæ": -0.5, "mye": -1.0,
    # Negation: Nynorsk ikkje and its chat spellings; Bokmål ikke, Trøndelag itj/ittj.
    "ikkje": 1.5, "ikje": 1.5, "ikkj": 1.5, "kje": 1.0,
    "ikke": -1.5, "ike": -1.0, "itj": -1.5, "ittj": -1.5, "itte": -1.0, "ikkeno": -1.0,
    # First person: Nynorsk eg/me, Bokmål jeg; northern/Trøndelag æ, mæ, dæ. "e" (jeg in the
    # north, er almost everywhere, the "e" of "e-post") and "i" say nothing.
    "eg": 1.5, "me": 0.5, "jeg": -1.5, "je": -0.5, "æ": -1.0, "e": 0.0, "i": 0.0,
    "mæ": -1.0, "dæ": -1.0, "sæ": -1.0,
    # Nynorsk "open" (Bokmål åpen/åpent): rare in news and short, so the model scores them
    # weakly. Longer forms (opne, opnar, opningstid) and all Bokmål å-forms it knows well.
    "ope": 2.0, "open": 2.0,
    # Words that read the same in both standards and are common in chat: no evidence.
    "hei": 0.0, "heisann": 0.0, "hallo": 0.0, "halla": 0.0, "takk": 0.0, "tusen": 0.0,
    "ok": 0.0, "okei": 0.0, "okay": 0.0, "ja": 0.0, "nei": 0.0, "hade": 0.0,
    "mvh": 0.0, "hmm": 0.0, "bra": 0.0, "flott": 0.0, "supert": 0.0, "pls": 0.0,
}
