/*
 * Stand-in for Windows' bcryptprimitives.dll, for running the Windows build under Wine 8 only.
 *
 * Rust's standard library (1.78 and later) gets its random bytes from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and later have and Wine 8 does not. This DLL provides
 * that one function by asking advapi32's RtlGenRandom (exported as SystemFunction036), which Wine
 * implements over the host's random source. It is built by scripts/windows/build-standin-dll and
 * copied into the private Wine prefix's system32 by scripts/windows/wine-run; it is never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes; always TRUE on Windows, FALSE here only if the source fails. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
