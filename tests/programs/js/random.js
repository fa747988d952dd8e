// Seeded randomness: the seed is an input, so the same run draws the same.
const draws = [];
for (let i = 0; i < 5; i++) {
  draws.push(Math.floor(Math.random() * 100));
}
const deck = ["a", "b", "c", "d", "e"];
for (let i = deck.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [deck[i], deck[j]] = [deck[j], deck[i]];
}
console.log(draws, deck);
