/*
 * A stand-in bcryptprimitives.dll for running Corridor's Windows build
 * under Wine in tests (build/wine/wine-test.sh). Never shipped.
 *
 * Go (1.26 here) takes its random bytes from ProcessPrng in
 * bcryptprimitives.dll, which every Windows 10 and 11 has but Wine 8.0
 * (Debian 12) lacks: a Go program there dies at start with
 * "bcryptprimitives.dll not found". This DLL exports ProcessPrng and fills
 * the buffer with RtlGenRandom (advapi32's SystemFunction036), which Wine
 * does have. The test copies it into its own prefix's
 * drive_c/windows/system32 (the runtime loads it from system32 only).
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *            processprng.c -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom is exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG length: fill larger buffers in pieces. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst;
	(void)reason;
	(void)reserved;
	return TRUE;
}
