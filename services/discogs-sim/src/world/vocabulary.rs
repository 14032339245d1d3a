//! The words the world is made of: genres and their styles as Discogs names them, the
//! countries sellers ship from with their usual currency, and word pools for names.

use cratedigger_domain::Currency;
use rand::Rng;
use rand::seq::IndexedRandom;

/// Discogs genres, each with styles that Discogs files under it.
pub const GENRES: &[(&str, &[&str])] = &[
    (
        "Electronic",
        &[
            "Techno",
            "House",
            "Ambient",
            "Electro",
            "Minimal",
            "Deep House",
            "IDM",
            "Synth-pop",
        ],
    ),
    (
        "Rock",
        &[
            "Psychedelic Rock",
            "Prog Rock",
            "Punk",
            "Post-Punk",
            "Indie Rock",
            "Krautrock",
            "Garage Rock",
            "Shoegaze",
        ],
    ),
    (
        "Jazz",
        &[
            "Hard Bop",
            "Modal",
            "Free Jazz",
            "Soul-Jazz",
            "Fusion",
            "Cool Jazz",
            "Spiritual Jazz",
            "Bossa Nova",
        ],
    ),
    (
        "Hip Hop",
        &[
            "Boom Bap",
            "Conscious",
            "Instrumental",
            "Hardcore Hip-Hop",
            "Trip Hop",
            "Jazzy Hip-Hop",
        ],
    ),
    (
        "Funk / Soul",
        &[
            "Soul",
            "Funk",
            "Disco",
            "Rhythm & Blues",
            "Northern Soul",
            "Boogie",
        ],
    ),
    (
        "Reggae",
        &[
            "Roots Reggae",
            "Dub",
            "Dancehall",
            "Rocksteady",
            "Ska",
            "Lovers Rock",
        ],
    ),
    (
        "Folk, World, & Country",
        &[
            "Folk", "Afrobeat", "Highlife", "Country", "Celtic", "Cumbia",
        ],
    ),
    (
        "Classical",
        &[
            "Baroque",
            "Romantic",
            "Modern",
            "Contemporary",
            "Opera",
            "Minimalism",
        ],
    ),
    (
        "Latin",
        &["Salsa", "Samba", "MPB", "Tropicália", "Bolero", "Son"],
    ),
    (
        "Blues",
        &[
            "Chicago Blues",
            "Delta Blues",
            "Electric Blues",
            "Country Blues",
            "Rhythm & Blues",
        ],
    ),
];

/// Where sellers ship from, how often, and the currency they list in.
pub const SELLER_COUNTRIES: &[(&str, Currency, u32)] = &[
    ("United States", Currency::USD, 30),
    ("Germany", Currency::EUR, 16),
    ("United Kingdom", Currency::GBP, 14),
    ("Japan", Currency::JPY, 8),
    ("France", Currency::EUR, 6),
    ("Netherlands", Currency::EUR, 5),
    ("Italy", Currency::EUR, 4),
    ("Canada", Currency::CAD, 4),
    ("Australia", Currency::AUD, 3),
    ("Sweden", Currency::SEK, 2),
    ("Switzerland", Currency::CHF, 2),
    ("Spain", Currency::EUR, 2),
    ("Brazil", Currency::BRL, 2),
    ("Mexico", Currency::MXN, 1),
    ("New Zealand", Currency::NZD, 1),
];

/// Countries printed on releases.
pub const RELEASE_COUNTRIES: &[&str] = &[
    "US",
    "UK",
    "Germany",
    "Japan",
    "France",
    "Europe",
    "Netherlands",
    "Italy",
    "Canada",
    "Brazil",
    "Jamaica",
    "Sweden",
    "Australia",
    "Spain",
    "India",
    "Nigeria",
];

const ADJECTIVES: &[&str] = &[
    "Velvet", "Electric", "Silent", "Golden", "Crimson", "Hollow", "Lunar", "Static", "Northern",
    "Broken", "Distant", "Neon", "Wooden", "Paper", "Hidden", "Burning", "Frozen", "Midnight",
    "Amber", "Cosmic", "Quiet", "Wild", "Blue", "Iron", "Liquid", "Solar", "Second", "Lost",
];

const NOUNS: &[&str] = &[
    "Machines",
    "Rivers",
    "Orchestra",
    "Tapes",
    "Gardens",
    "Signals",
    "Horizons",
    "Echoes",
    "Mirrors",
    "Engines",
    "Voices",
    "Waves",
    "Shadows",
    "Lanterns",
    "Circuits",
    "Pilots",
    "Dreams",
    "Harbours",
    "Satellites",
    "Ghosts",
    "Tides",
    "Rooms",
    "Lights",
    "Birds",
];

const FIRST_NAMES: &[&str] = &[
    "Mara", "Idris", "Yoko", "Tomás", "Ada", "Kwame", "Lena", "Otis", "Nina", "Ravi", "Elsa",
    "Marvin", "Chiara", "Femi", "Sun", "Astrid", "Lou", "Ines", "Hugo", "Mei", "Dorothy", "Jun",
];

const LAST_NAMES: &[&str] = &[
    "Lindqvist",
    "Okafor",
    "Tanaka",
    "Reyes",
    "Novak",
    "Mensah",
    "Hartmann",
    "Brooks",
    "Simone",
    "Shankar",
    "Berg",
    "Gaye",
    "Rossi",
    "Kuti",
    "Ra",
    "Holm",
    "Reed",
    "Duarte",
    "Moreau",
    "Chen",
    "Ashby",
    "Mori",
];

const LABEL_WORDS: &[&str] = &[
    "Records",
    "Recordings",
    "Music",
    "Sound",
    "Tonträger",
    "Disques",
    "Audio",
    "Editions",
];

const SELLER_WORDS: &[&str] = &[
    "vinyl", "wax", "groove", "crate", "spin", "needle", "record", "disc", "sound", "deep", "rare",
    "dusty", "second", "black", "round", "audio",
];

const SELLER_TAILS: &[&str] = &[
    "shop", "store", "house", "hunter", "digger", "vault", "depot", "exchange", "corner", "den",
];

pub const CONDITION_COMMENTS: &[&str] = &[
    "Plays fine, light surface marks.",
    "Sleeve has ring wear, vinyl is clean.",
    "Original inner sleeve included.",
    "Small seam split on the sleeve.",
    "Factory sealed.",
    "Cleaned on a vacuum machine.",
    "Price sticker on the cover.",
    "Some crackle in the run-in grooves.",
    "Promo stamp on the back cover.",
    "Ask for photos if you want.",
    "Hype sticker on the shrink.",
    "Corner bumped, otherwise very nice.",
    "Light warp, does not affect play.",
    "Writing on the label.",
];

pub fn band_name(rng: &mut impl Rng) -> String {
    let adjective = ADJECTIVES.choose(rng).copied().unwrap_or("Velvet");
    let noun = NOUNS.choose(rng).copied().unwrap_or("Machines");
    if rng.random_bool(0.5) {
        format!("The {adjective} {noun}")
    } else {
        format!("{adjective} {noun}")
    }
}

pub fn person_name(rng: &mut impl Rng) -> String {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Ada");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Berg");
    format!("{first} {last}")
}

pub fn title(rng: &mut impl Rng) -> String {
    let adjective = ADJECTIVES.choose(rng).copied().unwrap_or("Quiet");
    let noun = NOUNS.choose(rng).copied().unwrap_or("Rooms");
    match rng.random_range(0..4) {
        0 => format!("{adjective} {noun}"),
        1 => format!("Songs For {noun}"),
        2 => format!("{noun} Of The {adjective} Hour"),
        _ => adjective.to_owned(),
    }
}

pub fn label_name(rng: &mut impl Rng) -> String {
    let noun = NOUNS.choose(rng).copied().unwrap_or("Echoes");
    let word = LABEL_WORDS.choose(rng).copied().unwrap_or("Records");
    format!("{noun} {word}")
}

/// A seller handle such as `dustygroove_vault`; `index` keeps handles unique.
pub fn seller_name(rng: &mut impl Rng, index: usize) -> String {
    let word = SELLER_WORDS.choose(rng).copied().unwrap_or("vinyl");
    let tail = SELLER_TAILS.choose(rng).copied().unwrap_or("shop");
    match rng.random_range(0..3) {
        0 => format!("{word}{tail}{index}"),
        1 => format!("{word}_{tail}_{index}"),
        _ => format!("{}{tail}-{index}", capitalise(word)),
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
