// Classes with inheritance, getters, static members and private fields.
class Shape {
  static count = 0;
  #id;
  constructor(name) {
    this.name = name;
    Shape.count += 1;
    this.#id = Shape.count;
  }
  get id() {
    return this.#id;
  }
  area() {
    return 0;
  }
  describe() {
    return `${this.name}#${this.id} area ${this.area().toFixed(1)}`;
  }
}
class Circle extends Shape {
  constructor(r) {
    super("circle");
    this.r = r;
  }
  area() {
    return Math.PI * this.r * this.r;
  }
}
class Square extends Shape {
  constructor(side) {
    super("square");
    this.side = side;
  }
  area() {
    return this.side ** 2;
  }
}
const shapes = [new Circle(1), new Square(3)];
const report = shapes.map((s) => s.describe());
console.log(report, Shape.count, shapes[1] instanceof Shape);
