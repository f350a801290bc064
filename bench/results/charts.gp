set terminal pngcairo size 1000,600 noenhanced
set output 'bench/results/latency_64B.png'
set title 'Round trip, 64 B payload, two processes on two cores (lower is better)'
set style data histogram
set style histogram cluster gap 1
set style fill solid border -1
set logscale y
set ylabel 'ns'
set xtics rotate by -20
set key top left
set grid ytics
plot 'bench/results/latency_64.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
reset
set terminal pngcairo size 1000,600 noenhanced
set output 'bench/results/throughput.png'
set title 'One-way stream throughput against payload size (higher is better)'
set logscale xy
set xlabel 'payload bytes'
set ylabel 'MB/s'
set grid
set key bottom right
plot 'bench/results/throughput_0.dat' using 1:2 with linespoints title 'boost message_queue', 'bench/results/throughput_1.dat' using 1:2 with linespoints title 'iceoryx', 'bench/results/throughput_2.dat' using 1:2 with linespoints title 'kbus blocking', 'bench/results/throughput_3.dat' using 1:2 with linespoints title 'kbus busy-poll', 'bench/results/throughput_4.dat' using 1:2 with linespoints title 'kbus futex', 'bench/results/throughput_5.dat' using 1:2 with linespoints title 'unix socket', 'bench/results/throughput_6.dat' using 1:2 with linespoints title 'zeromq ipc'
