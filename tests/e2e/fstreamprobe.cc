// SPDX-License-Identifier: MIT
//
// fstreamprobe: C++ iostreams on a device, run under the shim by the
// end-to-end tests.  libstdc++ opens a file stream with fopen64 and
// closes it with fclose; it reads and writes the FILE's fileno.
//
//   fstreamprobe PATH TEXT
//     ofstream: write TEXT and a newline  -> "ofstream=ok|fail"
//     ifstream: read a line back          -> "ifstream=LINE" or "=fail"
//     fstream (in|out): write TEXT2, read -> "fstream=LINE" or "=fail"
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::cerr << "usage: fstreamprobe PATH TEXT\n";
		return 2;
	}
	const std::string path = argv[1], text = argv[2];

	{
		std::ofstream out(path);
		out << text << '\n';
		out.close();
		std::cout << "ofstream=" << (out.fail() ? "fail" : "ok") << std::endl;
	}
	{
		std::ifstream in(path);
		std::string line;

		if (in && std::getline(in, line))
			std::cout << "ifstream=" << line << std::endl;
		else
			std::cout << "ifstream=fail" << std::endl;
	}
	{
		std::fstream io(path, std::ios::in | std::ios::out);
		std::string line;

		io << text << "-rw" << '\n';
		io.flush();
		if (io && std::getline(io, line))
			std::cout << "fstream=" << line << std::endl;
		else
			std::cout << "fstream=fail" << std::endl;
	}
	return 0;
}
