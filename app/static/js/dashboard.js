// The organisers' dashboard: one line chart per figure, a line per province or industry (the
// busiest eight; the rest added up as "其他"). Data comes from the JSON block the page carries.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  var names = Object.keys(data.series);
  var shown = names.slice(0, 8);
  var rest = names.slice(8);
  var colours = ["#c8161d", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

  function datasets(metric) {
    var sets = shown.map(function (name, i) {
      return { label: (labels.names && labels.names[name]) || name, data: data.series[name][metric], borderColor: colours[i], backgroundColor: colours[i], tension: 0.2 };
    });
    if (rest.length) {
      var sum = data.days.map(function (_, day) {
        return rest.reduce(function (total, name) { return total + data.series[name][metric][day]; }, 0);
      });
      sets.push({ label: labels.other, data: sum, borderColor: colours[8], backgroundColor: colours[8], tension: 0.2 });
    }
    return sets;
  }

  document.querySelectorAll("canvas[data-metric]").forEach(function (canvas) {
    var metric = canvas.getAttribute("data-metric");
    canvas.chart = new Chart(canvas, {
      type: "line",
      data: { labels: data.days.map(function (d) { return d.slice(5); }), datasets: datasets(metric) },
      options: {
        responsive: true,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  });
})();
