//! The Python the demo agent knows: a catalog of small real functions with their tests, how a
//! prompt picks among them, and a line-based reader of the `def`s in a Python file.

use sha2::{Digest, Sha256};

/// One function the generator can write, with pytest assertions the tester can write for it.
#[derive(Debug)]
pub struct PyFunction {
    pub name: &'static str,
    /// Prompt words starting with one of these ask for this function.
    pub keywords: &'static [&'static str],
    pub source: &'static str,
    /// Body of the test function, indented by four spaces.
    pub test: &'static str,
}

/// How many functions one generator run writes at most, and at least when the catalog allows.
const MAX_PICK: usize = 4;
const MIN_PICK: usize = 3;

pub static CATALOG: &[PyFunction] = &[
    PyFunction {
        name: "slugify",
        keywords: &["slug", "url"],
        source: r#"def slugify(text):
    """Lower-case text with each run of other characters turned into one dash."""
    out = []
    for ch in text.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")
"#,
        test: r#"    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  grove  runs agents ") == "grove-runs-agents"
    assert slugify("---") == ""
"#,
    },
    PyFunction {
        name: "word_count",
        keywords: &["word", "count", "frequenc"],
        source: r#"def word_count(text):
    """How often each whitespace-separated word occurs, ignoring case."""
    counts = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts
"#,
        test: r#"    assert word_count("a b A") == {"a": 2, "b": 1}
    assert word_count("") == {}
"#,
    },
    PyFunction {
        name: "is_palindrome",
        keywords: &["palindrom", "revers"],
        source: r#"def is_palindrome(text):
    """True when text reads the same backwards, ignoring case and punctuation."""
    letters = [ch.lower() for ch in text if ch.isalnum()]
    return letters == letters[::-1]
"#,
        test: r#"    assert is_palindrome("A man, a plan, a canal: Panama")
    assert not is_palindrome("grove")
"#,
    },
    PyFunction {
        name: "mean",
        keywords: &["mean", "averag", "statistic"],
        source: r#"def mean(values):
    """Arithmetic mean of a non-empty sequence of numbers."""
    if not values:
        raise ValueError("mean() of an empty sequence")
    return sum(values) / len(values)
"#,
        test: r#"    assert mean([1, 2, 3, 4]) == 2.5
    with pytest.raises(ValueError):
        mean([])
"#,
    },
    PyFunction {
        name: "median",
        keywords: &["median", "middle"],
        source: r#"def median(values):
    """Middle value of a non-empty sequence (mean of the two middle ones if even)."""
    if not values:
        raise ValueError("median() of an empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
"#,
        test: r#"    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
"#,
    },
    PyFunction {
        name: "clamp",
        keywords: &["clamp", "limit", "bound"],
        source: r#"def clamp(value, low, high):
    """value limited to the closed interval [low, high]."""
    if low > high:
        raise ValueError("low must not exceed high")
    return max(low, min(value, high))
"#,
        test: r#"    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2
"#,
    },
    PyFunction {
        name: "is_prime",
        keywords: &["prime"],
        source: r#"def is_prime(n):
    """True for prime integers, by trial division up to the square root."""
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True
"#,
        test: r#"    assert [n for n in range(20) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19]
"#,
    },
    PyFunction {
        name: "fibonacci",
        keywords: &["fibonacci", "fib", "sequence"],
        source: r#"def fibonacci(n):
    """The first n Fibonacci numbers, starting 0, 1."""
    numbers = []
    a, b = 0, 1
    for _ in range(n):
        numbers.append(a)
        a, b = b, a + b
    return numbers
"#,
        test: r#"    assert fibonacci(8) == [0, 1, 1, 2, 3, 5, 8, 13]
    assert fibonacci(0) == []
"#,
    },
    PyFunction {
        name: "factorial",
        keywords: &["factorial", "product"],
        source: r#"def factorial(n):
    """n! for a non-negative integer n."""
    if n < 0:
        raise ValueError("factorial() of a negative number")
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
"#,
        test: r#"    assert factorial(0) == 1
    assert factorial(5) == 120
    with pytest.raises(ValueError):
        factorial(-1)
"#,
    },
    PyFunction {
        name: "chunked",
        keywords: &["chunk", "batch", "page"],
        source: r#"def chunked(items, size):
    """items split into lists of at most size elements, in order."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
"#,
        test: r#"    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunked([], 3) == []
"#,
    },
    PyFunction {
        name: "unique",
        keywords: &["unique", "dedup", "duplicat", "distinct"],
        source: r#"def unique(items):
    """items without repeats, keeping the first occurrence of each."""
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
"#,
        test: r#"    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]
"#,
    },
    PyFunction {
        name: "flatten",
        keywords: &["flatten", "nest"],
        source: r#"def flatten(items):
    """Elements of nested lists and tuples, depth first, as one flat list."""
    flat = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat.extend(flatten(item))
        else:
            flat.append(item)
    return flat
"#,
        test: r#"    assert flatten([1, [2, (3, [4])], 5]) == [1, 2, 3, 4, 5]
"#,
    },
    PyFunction {
        name: "celsius_to_fahrenheit",
        keywords: &["celsius", "fahrenheit", "temperatur"],
        source: r#"def celsius_to_fahrenheit(celsius):
    """Degrees Celsius converted to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32
"#,
        test: r#"    assert celsius_to_fahrenheit(100) == 212
    assert celsius_to_fahrenheit(-40) == -40
"#,
    },
    PyFunction {
        name: "count_vowels",
        keywords: &["vowel", "letter"],
        source: r#"def count_vowels(text):
    """Number of vowels (a, e, i, o, u) in text, ignoring case."""
    return sum(1 for ch in text.lower() if ch in "aeiou")
"#,
        test: r#"    assert count_vowels("Grove Demo") == 4
    assert count_vowels("xyz") == 0
"#,
    },
    PyFunction {
        name: "title_case",
        keywords: &["title", "capital", "heading"],
        source: r#"def title_case(text):
    """Each word capitalised, except short joining words after the first."""
    small = {"a", "an", "and", "at", "in", "of", "on", "or", "the", "to"}
    words = text.lower().split()
    return " ".join(
        word if i and word in small else word.capitalize()
        for i, word in enumerate(words)
    )
"#,
        test: r#"    assert title_case("the lord OF the rings") == "The Lord of the Rings"
"#,
    },
    PyFunction {
        name: "parse_key_values",
        keywords: &["pars", "config", "setting"],
        source: r##"def parse_key_values(text):
    """Dict from lines of the form key=value; blank lines and # comments are skipped."""
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        result[key.strip()] = value.strip()
    return result
"##,
        test: r##"    text = "# settings\nname = grove\n\nworkers=4\nbroken line\n"
    assert parse_key_values(text) == {"name": "grove", "workers": "4"}
"##,
    },
    PyFunction {
        name: "gcd",
        keywords: &["gcd", "divisor", "fraction"],
        source: r#"def gcd(a, b):
    """Greatest common divisor of two integers (Euclid), never negative."""
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a
"#,
        test: r#"    assert gcd(12, 18) == 6
    assert gcd(-4, 6) == 2
    assert gcd(0, 0) == 0
"#,
    },
    PyFunction {
        name: "truncate",
        keywords: &["truncat", "shorten", "ellipsis"],
        source: r#"def truncate(text, width):
    """text cut to at most width characters, ending in "..." when it was cut."""
    if width < 3:
        raise ValueError("width must be at least 3")
    if len(text) <= width:
        return text
    return text[: width - 3] + "..."
"#,
        test: r#"    assert truncate("grove", 10) == "grove"
    assert truncate("worktrees and branches", 10) == "worktre..."
"#,
    },
];

pub fn by_name(name: &str) -> Option<&'static PyFunction> {
    CATALOG.iter().find(|f| f.name == name)
}

/// The functions `prompt` asks for, in order of first mention (at most `MAX_PICK`), topped up to
/// `MIN_PICK` from a place in the catalog chosen by the prompt's hash so that different prompts
/// get different helpers but the same prompt always gets the same. Names in `skip` (already
/// written) are never picked.
pub fn pick(prompt: &str, skip: &[String]) -> Vec<&'static PyFunction> {
    let usable = |f: &&PyFunction| !skip.iter().any(|s| s == f.name);
    let mut picked: Vec<&'static PyFunction> = Vec::new();
    for word in words(prompt) {
        for f in CATALOG.iter().filter(usable) {
            let asked = f.keywords.iter().any(|k| word.starts_with(k));
            if asked && picked.len() < MAX_PICK && !picked.iter().any(|p| p.name == f.name) {
                picked.push(f);
            }
        }
    }
    let start = seed(prompt) % CATALOG.len();
    let rotated = CATALOG[start..].iter().chain(&CATALOG[..start]);
    for f in rotated.filter(usable) {
        if picked.len() >= MIN_PICK {
            break;
        }
        if !picked.iter().any(|p| p.name == f.name) {
            picked.push(f);
        }
    }
    picked
}

/// Lower-case alphanumeric words of `text`, in order.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn seed(text: &str) -> usize {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    // Truncation on 32-bit targets is fine: only the remainder modulo the catalog size matters.
    u64::from_le_bytes(bytes) as usize
}

/// A top-level `def` found in a Python file.
#[derive(Debug, Clone, PartialEq)]
pub struct PyDef {
    pub name: String,
    /// What follows `def ` up to the closing parenthesis, e.g. `clamp(value, low, high)`.
    pub signature: String,
    /// The first line of its docstring, when it has one.
    pub doc: Option<String>,
    /// 1-based line of the `def`.
    pub line: usize,
}

/// Top-level functions of a Python file. Line-based on purpose: it only has to understand the
/// plain style the generator writes and the sample project uses.
pub fn defs(source: &str) -> Vec<PyDef> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("def ") else {
            continue;
        };
        let Some(open) = rest.find('(') else {
            continue;
        };
        let end = rest
            .rfind(')')
            .map_or(rest.len(), |close| close + 1)
            .max(open);
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let doc = ["\"\"\"", "'''"].iter().find_map(|q| {
            next.strip_prefix(q)
                .map(|d| d.trim_end_matches(q).trim().to_string())
        });
        found.push(PyDef {
            name: rest[..open].trim().to_string(),
            signature: rest[..end].to_string(),
            doc,
            line: i + 1,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_words_pick_in_order_of_mention() {
        let picked = pick("Add palindrome checks, then slugify titles", &[]);
        let names: Vec<_> = picked.iter().map(|f| f.name).collect();
        assert_eq!(&names[..3], &["is_palindrome", "slugify", "title_case"]);
    }

    #[test]
    fn picks_are_topped_up_and_skip_written_names() {
        let skip = vec!["slugify".to_string()];
        let picked = pick("slugify please", &skip);
        assert_eq!(picked.len(), MIN_PICK);
        assert!(picked.iter().all(|f| f.name != "slugify"));
        assert_eq!(picked.iter().map(|f| f.name).collect::<Vec<_>>(), {
            pick("slugify please", &skip)
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
        });
    }

    #[test]
    fn every_catalog_entry_reads_back_as_one_documented_def() {
        for f in CATALOG {
            let found = defs(f.source);
            assert_eq!(found.len(), 1, "{}", f.name);
            assert_eq!(found[0].name, f.name);
            assert!(found[0].doc.is_some(), "{} lacks a docstring", f.name);
            assert!(f.test.contains(f.name), "{} test does not call it", f.name);
        }
    }
}
