"""Names for generated customers, spread the way they are in the countries they come from.

A name search is only as selective as the names are varied: with a handful of surnames for
a million people, "jans" would find one customer in twenty. Here each country has its most
common surnames at about their share of the population (rounded from national surname
statistics) and a long tail of rarer names built from common parts, which shares the rest
evenly, so a search for "jans" or "müll" finds as many customers as it would in a real
store of that size (a few thousand in a million), and a rare name a few hundred.

Spanish customers carry two surnames ("García López"), as they do in life. First names are
a short list per country, the first ones more common (a first name alone is a broad
search, as it is in a real store). Companies (for the customers who buy for one) are named
after families too, with a trade and a legal form.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate, product


def words(text: str) -> list[str]:
    return text.split()


# Country -> (surname, percent of the population) for its most common surnames.
COMMON_SURNAMES: dict[str, list[tuple[str, float]]] = {
    "NL": [
        ("de Jong", 0.52),
        ("Jansen", 0.45),
        ("de Vries", 0.43),
        ("van den Berg", 0.35),
        ("van Dijk", 0.34),
        ("Bakker", 0.33),
        ("Janssen", 0.32),
        ("Visser", 0.30),
        ("Smit", 0.26),
        ("Meijer", 0.25),
        ("de Boer", 0.24),
        ("Mulder", 0.24),
        ("de Groot", 0.23),
        ("Bos", 0.22),
        ("Vos", 0.19),
        ("Peters", 0.19),
        ("Hendriks", 0.19),
        ("van Leeuwen", 0.18),
        ("Dekker", 0.17),
        ("Brouwer", 0.16),
    ],
    "DE": [
        ("Müller", 0.95),
        ("Schmidt", 0.70),
        ("Schneider", 0.40),
        ("Fischer", 0.35),
        ("Weber", 0.30),
        ("Meyer", 0.30),
        ("Wagner", 0.27),
        ("Becker", 0.25),
        ("Schulz", 0.25),
        ("Hoffmann", 0.25),
        ("Schäfer", 0.20),
        ("Koch", 0.20),
        ("Bauer", 0.20),
        ("Richter", 0.19),
        ("Klein", 0.19),
        ("Wolf", 0.18),
        ("Schröder", 0.17),
        ("Neumann", 0.17),
        ("Schwarz", 0.16),
        ("Zimmermann", 0.16),
    ],
    "BE": [
        ("Peeters", 0.60),
        ("Janssens", 0.55),
        ("Maes", 0.50),
        ("Jacobs", 0.40),
        ("Mertens", 0.35),
        ("Willems", 0.35),
        ("Claes", 0.33),
        ("Goossens", 0.30),
        ("Wouters", 0.30),
        ("De Smet", 0.28),
        ("Dubois", 0.27),
        ("Lambert", 0.25),
        ("Dupont", 0.24),
        ("Martin", 0.22),
        ("Hermans", 0.22),
    ],
    "FR": [
        ("Martin", 0.80),
        ("Bernard", 0.50),
        ("Thomas", 0.40),
        ("Petit", 0.40),
        ("Robert", 0.40),
        ("Richard", 0.40),
        ("Durand", 0.35),
        ("Dubois", 0.35),
        ("Moreau", 0.33),
        ("Laurent", 0.33),
        ("Simon", 0.30),
        ("Michel", 0.30),
        ("Lefebvre", 0.30),
        ("Leroy", 0.28),
        ("Roux", 0.27),
    ],
    "GB": [
        ("Smith", 1.10),
        ("Jones", 0.75),
        ("Williams", 0.60),
        ("Taylor", 0.50),
        ("Brown", 0.50),
        ("Davies", 0.45),
        ("Evans", 0.40),
        ("Wilson", 0.35),
        ("Thomas", 0.33),
        ("Johnson", 0.30),
        ("Roberts", 0.30),
        ("Robinson", 0.28),
        ("Thompson", 0.28),
        ("Wright", 0.27),
        ("Walker", 0.26),
    ],
    "ES": [
        ("García", 3.10),
        ("González", 1.90),
        ("Fernández", 1.90),
        ("Rodríguez", 1.60),
        ("López", 1.80),
        ("Martínez", 1.80),
        ("Sánchez", 1.70),
        ("Pérez", 1.70),
        ("Gómez", 1.00),
        ("Martín", 1.00),
        ("Jiménez", 0.85),
        ("Ruiz", 0.80),
        ("Hernández", 0.80),
        ("Díaz", 0.75),
        ("Moreno", 0.70),
    ],
    "IT": [
        ("Rossi", 0.40),
        ("Russo", 0.30),
        ("Ferrari", 0.25),
        ("Esposito", 0.25),
        ("Bianchi", 0.20),
        ("Romano", 0.20),
        ("Colombo", 0.18),
        ("Ricci", 0.15),
        ("Marino", 0.15),
        ("Greco", 0.15),
        ("Bruno", 0.14),
        ("Gallo", 0.14),
        ("Conti", 0.13),
        ("De Luca", 0.13),
        ("Mancini", 0.12),
    ],
}

# Country -> (particles with their weights, stems, endings): the long tail is every
# particle + stem + ending, weighted by its particle ("van der Hoekstra", "Steinmann").
TAIL_PARTS: dict[str, tuple[list[tuple[str, float]], list[str], list[str]]] = {
    "NL": (
        [("", 60), ("van ", 12), ("de ", 10), ("van der ", 8), ("van den ", 6), ("ter ", 2), ("van de ", 2)],
        words(
            "Akker Beek Berg Boer Bos Brink Broek Dam Dijk Gaag Graaf Haan Haar Heuvel Hoek Hof Horst "
            "Kamp Kerk Kooij Laan Linde Meer Molen Pol Put Rijn Schaik Sloot Steen Toren Vaart Veen "
            "Veld Vliet Wal Water Wiel Wijk Zand"
        ),
        ["", "man", "ink", "stra", "sma", "huis", "ing", "er", "s"],
    ),
    "DE": (
        [
            ("", 70),
            ("Hoch", 4),
            ("Nieder", 4),
            ("Ober", 4),
            ("Alt", 4),
            ("Neu", 6),
            ("Groß", 4),
            ("Klein", 4),
        ],
        words(
            "bach baum berg brand busch dorf eich feld hahn hart heim holz kamp kirch kraus lang linden "
            "mühl roth schön stein wald weiß wink zimmer acker bruck grün kessel"
        ),
        ["er", "mann", "el", "ner", "hardt", "ke", "meier", "inger", "", "s"],
    ),
    "BE": (
        [("", 55), ("Van ", 15), ("De ", 15), ("Van de ", 5), ("Van den ", 5), ("Ver", 5)],
        words(
            "Acker Bos Brouck Dael Donck Geer Hout Kerck Leem Meer Poel Roey Steen Veld Wauw Wijn Berg "
            "Hove Laer Velde Aert Bruyn Cleyn Damme"
        ),
        ["", "s", "e", "en", "aert", "ers", "ckx", "man"],
    ),
    "FR": (
        [("", 70), ("Le ", 10), ("Du ", 7), ("De ", 6), ("La ", 7)],
        words(
            "Bois Champ Chev Font Lam Mor Perr Roch Vall Mar Gir Bon Fourn Garn Mich Bland Rouss Guér Car "
            "Lebr Bouch Gaut Chass Brun"
        ),
        ["et", "eau", "ier", "in", "and", "ard", "on", "el", "ot", "ault", "ais", "at"],
    ),
    "GB": (
        [("", 100)],
        words(
            "Ash Black Brad Clark Cold Fair Green Hal Hart Lang Mill North Red Ship Stan Thorn Wood West "
            "Whit Brook Bur Cart Chap Dun East Fox Good Hay Kings Lock"
        ),
        ["ley", "ford", "ton", "well", "wood", "field", "by", "ham", "worth", "er", "son", "s", "ridge"],
    ),
    "ES": (
        [("", 100)],
        words(
            "Alar Bel Cabr Dom Esc Gall Gim Herr Lor Mor Nav Ort Pas Quint Rub Sal Sot Vid Zam Bar Cerv "
            "Cord Lag Mend Rom"
        ),
        ["ez", "ero", "ado", "illa", "as", "ón", "ín", "ano", "ar", "eda"],
    ),
    "IT": (
        [("", 75), ("De ", 8), ("Di ", 8), ("Lo ", 4), ("La ", 5)],
        words("Alb Bar Bell Cal Cap Dell Fer Gall Gior Lom Mar Mont Pag Pell Riv Sal Tor Val Vit Zan"),
        ["ini", "etti", "elli", "one", "ucci", "ardi", "oni", "ato", "ino", "esi"],
    ),
}

FIRST_NAMES: dict[str, list[str]] = {
    "NL": words(
        "Emma Sophie Julia Anna Lotte Noah Daan Sem Lucas Finn Liam Milan Tess Sara Eva Jesse Bram "
        "Thijs Lieke Roos Fenna Sanne Ruben Thomas"
    ),
    "DE": words(
        "Mia Emma Hannah Sofia Lena Leon Paul Ben Jonas Elias Felix Lukas Marie Anna Laura Jan Tim "
        "Max Greta Clara Moritz Julia Niklas"
    ),
    "BE": words(
        "Olivia Louise Emma Elise Marie Noah Arthur Louis Lucas Liam Jules Victor Lotte Nina Ella "
        "Wout Lars Femke Hanne Kobe"
    ),
    "FR": words(
        "Louise Jade Emma Alice Chloé Gabriel Léo Raphaël Arthur Louis Jules Hugo Camille Léa Manon "
        "Lucas Nathan Inès Zoé Théo"
    ),
    "GB": words(
        "Olivia Amelia Isla Ava Mia Oliver George Noah Arthur Harry Leo Jack Emily Grace Sophie "
        "Charlie Thomas James Lily Freya"
    ),
    "ES": words(
        "Lucía Sofía Martina María Julia Hugo Mateo Martín Lucas Leo Daniel Alejandro Paula Carmen "
        "Elena Pablo Javier Sara Irene Diego"
    ),
    "IT": words(
        "Sofia Giulia Aurora Alice Ginevra Leonardo Francesco Alessandro Lorenzo Mattia Tommaso "
        "Gabriele Emma Giorgia Beatrice Andrea Riccardo Chiara Marco Anna"
    ),
}


@dataclass(frozen=True)
class Pool:
    """Names with cumulative weights: `pick` is a binary search, cheap for a million rows."""

    names: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weighted: list[tuple[str, float]]) -> Pool:
        return cls(tuple(n for n, _ in weighted), tuple(accumulate(w for _, w in weighted)))

    def pick(self, rng: random.Random) -> str:
        return self.names[bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def share(self, name: str) -> float:
        """The fraction of draws that give `name`."""
        index = self.names.index(name)
        low = self.cumulative[index - 1] if index else 0.0
        return (self.cumulative[index] - low) / self.cumulative[-1]


def surname_pool(country: str) -> Pool:
    common = COMMON_SURNAMES[country]
    taken = {name for name, _ in common}
    particles, stems, endings = TAIL_PARTS[country]
    tail = []
    for (particle, weight), stem, ending in product(particles, stems, endings):
        core = stem + ending
        if particle and not particle.endswith(" "):
            name = particle + core.lower()  # "Neu" + "bachmann" -> "Neubachmann"
        else:
            name = particle + core[0].upper() + core[1:]  # "van der " + "Hoekstra"
        if name not in taken:
            taken.add(name)
            tail.append((name, weight))
    rest = 100.0 - sum(share for _, share in common)
    tail_total = sum(weight for _, weight in tail)
    return Pool.of([*common, *((name, rest * weight / tail_total) for name, weight in tail)])


def first_name_pool(country: str) -> Pool:
    """Earlier names more common (weight 1/rank^0.8)."""
    return Pool.of([(name, 1 / rank**0.8) for rank, name in enumerate(FIRST_NAMES[country], 1)])


LEGAL_FORMS = {
    "NL": "B.V.",
    "DE": "GmbH",
    "BE": "BV",
    "FR": "SARL",
    "GB": "Ltd",
    "ES": "S.L.",
    "IT": "S.r.l.",
}
TRADES = words("Bouw Design Logistics Trading Consult Media Tech Food Installaties Advies Services Handel")

SURNAMES = {country: surname_pool(country) for country in COMMON_SURNAMES}
FIRST = {country: first_name_pool(country) for country in FIRST_NAMES}


def last_name(rng: random.Random, country: str) -> str:
    pool = SURNAMES[country]
    if country == "ES":
        return f"{pool.pick(rng)} {pool.pick(rng)}"
    return pool.pick(rng)


def first_name(rng: random.Random, country: str) -> str:
    return FIRST[country].pick(rng)


def company(rng: random.Random, country: str) -> str:
    """A business named after a family or a made-up word, with a trade and a legal form:
    "Bakker Bouw B.V.", "Steinmann GmbH"."""
    name = SURNAMES[country].pick(rng)
    trade = f" {rng.choice(TRADES)}" if rng.random() < 0.6 else ""
    return f"{name}{trade} {LEGAL_FORMS[country]}"
