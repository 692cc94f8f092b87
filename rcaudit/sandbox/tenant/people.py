"""Reference data the tenant generator draws on: offices, names, phone formats, departments.

Four countries (US, GB, DE, SE) with real cities and the ways people type mobile numbers there, names
with non-ASCII letters, and the English country names RingCentral stores.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Office:
    city: str
    state: str | None
    postal_code: str
    street: str


@dataclass(frozen=True)
class Country:
    code: str
    rc_name: str  # what RingCentral stores (English name)
    entra_forms: tuple[str, ...]  # how admins type it in Entra's `country`
    dial: str
    mobile_prefixes: tuple[str, ...]  # national significant number prefixes of mobile ranges
    mobile_digits: int  # digits after the prefix
    direct_prefix: str  # RingCentral direct numbers (E.164, without the digits that follow)
    offices: tuple[Office, ...]
    given: tuple[str, ...]
    surnames: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US", "United States", ("US", "United States", "USA"), "1", ("415", "212", "512", "312", "720"), 7,
        "+1650", (
            Office("San Francisco", "CA", "94105", "500 Howard St"),
            Office("New York", "NY", "10001", "350 5th Ave"),
            Office("Austin", "TX", "78701", "600 Congress Ave"),
            Office("Chicago", "IL", "60606", "233 S Wacker Dr"),
        ),
        ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Carlos", "María", "José", "Zoë", "Aaliyah", "Chloé", "André", "Thảo", "Jamal",
         "Priya", "Wei", "Hannah", "Ethan", "Sofía"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodríguez", "Martínez",
         "Hernández", "Lopez", "Nguyen", "O'Brien", "Kim", "Patel", "Anderson", "Taylor", "Thomas", "Moore",
         "Jackson", "Lee", "Washington", "Núñez"),
    ),
    Country(
        "GB", "United Kingdom", ("GB", "United Kingdom"), "44", ("7700", "7911", "7400", "7555"), 6,
        "+4420", (
            Office("London", None, "EC2A 4NE", "1 Finsbury Avenue"),
            Office("Manchester", None, "M1 4BT", "1 Piccadilly Gardens"),
            Office("Edinburgh", None, "EH2 2ER", "20 Princes Street"),
        ),
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Sophie", "Siobhán",
         "Niamh", "Eóin", "Arjun", "Fatima", "Olivia", "Thomas", "Emily"),
        ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright",
         "O'Connor", "Ó Súilleabháin", "Hughes", "Khan", "Edwards", "Clarke", "Murphy"),
    ),
    Country(
        "DE", "Germany", ("DE", "Germany"), "49", ("151", "160", "170", "176"), 8,
        "+4930", (
            Office("Berlin", "Berlin", "10115", "Invalidenstraße 116"),
            Office("München", "Bayern", "80331", "Marienplatz 8"),
            Office("Hamburg", "Hamburg", "20095", "Mönckebergstraße 7"),
        ),
        ("Lukas", "Anna", "Leon", "Lena", "Jonas", "Jürgen", "Sören", "Käthe", "Mia", "Felix", "Sophie",
         "Maximilian", "Björn", "Zoë", "Hannah", "Emil", "Jörg"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer", "Koch",
         "Größe", "Weiß", "Krüger", "Hoffmann", "Schulz", "Yılmaz", "Neumann"),
    ),
    Country(
        "SE", "Sweden", ("SE", "Sweden"), "46", ("70", "72", "73", "76"), 7,
        "+468", (
            Office("Stockholm", None, "111 52", "Vasagatan 7"),
            Office("Göteborg", None, "411 06", "Kungsgatan 12"),
            Office("Malmö", None, "211 20", "Stortorget 9"),
        ),
        ("Erik", "Anna", "Lars", "Maria", "Karl", "Eva", "Björn", "Åsa", "Örjan", "Linnéa", "Märta", "Per",
         "Ingrid", "Sven", "Elsa", "Oskar", "Saga"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
         "Gustafsson", "Öberg", "Åberg", "Ström", "Lindqvist", "Bäckström"),
    ),
)

# Country weights: most staff in the US, then the European offices.
COUNTRY_WEIGHTS = (0.45, 0.2, 0.2, 0.15)

DEPARTMENTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    # department: (member titles, team-lead title, head title)
    "Sales": (("Account Executive", "Sales Development Representative", "Senior Account Executive"),
              "Sales Manager", "VP Sales"),
    "Customer Support": (("Support Engineer", "Senior Support Engineer", "Support Specialist"),
                         "Support Team Lead", "Head of Support"),
    "Engineering": (("Software Engineer", "Senior Software Engineer", "Staff Engineer", "QA Engineer"),
                    "Engineering Manager", "VP Engineering"),
    "Finance": (("Financial Analyst", "Accountant", "Payroll Specialist"), "Finance Manager", "Controller"),
    "Marketing": (("Marketing Specialist", "Content Manager", "Product Marketing Manager"),
                  "Marketing Manager", "Head of Marketing"),
    "Human Resources": (("HR Generalist", "Recruiter", "HR Business Partner"), "HR Manager", "Head of People"),
    "IT Operations": (("IT Administrator", "Service Desk Analyst", "Network Engineer"), "IT Manager", "CIO"),
}
DEPARTMENT_WEIGHTS = (0.24, 0.22, 0.24, 0.07, 0.09, 0.05, 0.09)

_FOLD = str.maketrans({
    "á": "a", "à": "a", "â": "a", "ä": "a", "å": "a", "ã": "a", "é": "e", "è": "e", "ê": "e", "ë": "e",
    "í": "i", "ì": "i", "î": "i", "ï": "i", "ı": "i", "ó": "o", "ò": "o", "ô": "o", "ö": "o", "ø": "o",
    "ú": "u", "ù": "u", "û": "u", "ü": "u", "ñ": "n", "ç": "c", "ß": "ss", "ả": "a", "ạ": "a", "ơ": "o",
    "Á": "A", "Ä": "A", "Å": "A", "É": "E", "Ó": "O", "Ö": "O", "Ø": "O", "Ü": "U", "Ñ": "N",
})


def ascii_local_part(given: str, surname: str) -> str:
    """`given.surname` folded to the ASCII an Entra admin would type into a UPN (`Größe` → `grosse`)."""
    def fold(text: str) -> str:
        folded = text.translate(_FOLD).lower()
        return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())

    return f"{fold(given)}.{fold(surname)}"
