// Binary form of a decimal number, wrapped in 'db' ... 'db'.
function bin(n) {
  return (n < 0 ? "-0b" : "0b") + Math.abs(n).toString(2);
}

function decimal_to_binary(decimal) {
  return "db" + bin(decimal).slice(2) + "db";
}
