"""The citizen mix the side-by-side benchmarks send (bench.mix, bench.rasa_cost): texts and
weights only, no third-party imports (bench.rasa_cost runs parts of itself in the Rasa
virtualenv)."""

GREETINGS = ["Hei", "Hallo!", "God morgon", "God dag", "hei hei", "Heisann", "hallo, er det nokon der?",
             "Hei, jeg lurer på noe"]
HANDOFFS = ["eg vil snakke med eit menneske", "kan jeg få snakke med en person?", "eg vil prate med nokon på kommunen",
            "jeg vil snakke med en saksbehandler", "kan eg chatte med ein person?", "gi meg et menneske"]
OUT_OF_SCOPE = ["kva blir vêret i morgon?", "hvem vant kampen i går?", "fortel ein vits",
                "hva er den beste pizzaen i Bergen?", "kan du anbefale en film?", "kor gamal er du?"]
# Category weights of the mix (out of 10).
WEIGHTS = {"greeting": 3, "fact": 4, "handoff": 1, "out_of_scope": 2}
