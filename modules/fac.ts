// fac: the smallest example module, with plain numeric exports (no memory traffic).
// The engine's tests use it for numeric calls and for trap reporting (divide by zero).

/** n! for the integer part of n, computed iteratively in f64 (fac(5) = 120). */
export function fac(n: f64): f64 {
  let result: f64 = 1;
  for (let i: f64 = 2; i <= n; i++) {
    result *= i;
    // Past 170! the result is Infinity for good; stop instead of looping up to a huge n.
    if (result == Infinity) break;
  }
  return result;
}

/** Wrapping i32 addition. */
export function add(a: i32, b: i32): i32 {
  return a + b;
}

/** i32 division: i32.div_s traps on b == 0 (and on i32.MIN / -1), which is the point. */
export function divide(a: i32, b: i32): i32 {
  return a / b;
}
