; VBM365 Auth installer for Windows, built by scripts/windows/package with Debian's makensis 3.
;
;   makensis -DVERSION=0.1.0 -DSTAGE=<dir with the files> -DOUTFILE=<installer.exe> installer.nsi
;
; A per-user install (no administrator rights): %LOCALAPPDATA%\Programs\vbm365-auth. Sections:
; the app and CLI with a Start menu entry and an uninstaller (required); start with Windows
; (optional, off unless ticked; the same Run entry the app's own "Start at login" setting writes);
; the CLI on the user's PATH (optional, on). Silent: `setup.exe /S`, with `/AUTOSTART` to tick
; start with Windows and `/NOPATH` to leave PATH alone (`/D=<folder>`, last, for another folder). The uninstaller removes all of that and keeps the user's tenants and
; tokens (%APPDATA%\vbm365-auth and the vault key in Credential Manager) for a later install.

; A 64-bit installer for a 64-bit program (and one that Wine's 64-bit loader can run).
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel user
ManifestDPIAware true

!ifndef VERSION
  !error "define VERSION (makensis -DVERSION=...)"
!endif
!ifndef STAGE
  !error "define STAGE, the directory with the files to install"
!endif
!ifndef OUTFILE
  !define OUTFILE "vbm365-auth-${VERSION}-windows-x64-setup.exe"
!endif

!define PRODUCT "VBM365 Auth"
; The value the app's own "Start at login" setting writes and removes (crates/core/src/autostart.rs,
; whose tests check these names): the product name under Run, and Task Manager's switch of it.
!define RUN_VALUE "VBM365 Auth"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\vbm365-auth"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define APPROVED_KEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\vbm365-auth"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
Icon "${STAGE}\icon.ico"
UninstallIcon "${STAGE}\icon.ico"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} setup"
VIAddVersionKey /LANG=1033 "LegalCopyright" "MIT License"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "Sections.nsh"
!define MUI_ICON "${STAGE}\icon.ico"
!define MUI_UNICON "${STAGE}\icon.ico"
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\vbm365-auth-app.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; The app may be running in the tray (an update, the uninstaller): ask it to go, then make sure.
!macro CloseApp
  nsExec::Exec 'taskkill.exe /IM vbm365-auth-app.exe'
  Pop $0
  ${If} $0 == 0
    Sleep 1000
    nsExec::Exec 'taskkill.exe /F /IM vbm365-auth-app.exe'
    Pop $0
  ${EndIf}
!macroend

; Adds (1) or removes (0) $INSTDIR on the user's PATH (HKCU\Environment) through PowerShell:
; NSIS strings stop at 1024 characters, too short for many a PATH. The value is read and written
; unexpanded and as REG_EXPAND_SZ, so entries such as %USERPROFILE%\bin stay as they are; then
; running programs are told (WM_SETTINGCHANGE "Environment").
!macro UserPath ADD
  System::Call 'Kernel32::SetEnvironmentVariable(t "VBM365_AUTH_DIR", t "$INSTDIR")i'
  nsExec::ExecToLog `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "$$d = $$env:VBM365_AUTH_DIR.TrimEnd('\'); $$k = [Microsoft.Win32.Registry]::CurrentUser.CreateSubKey('Environment'); $$p = [string]$$k.GetValue('Path', '', [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames); $$parts = @($$p.Split(';') | Where-Object { $$_ -and ($$_.TrimEnd('\') -ne $$d) }); if (${ADD}) { $$parts += $$d }; $$k.SetValue('Path', ($$parts -join ';'), [Microsoft.Win32.RegistryValueKind]::ExpandString); $$k.Close()"`
  Pop $0
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
!macroend

Section "${PRODUCT} (app and command line)" SecMain
  SectionIn RO
  !insertmacro CloseApp
  SetOutPath "$INSTDIR"
  File "${STAGE}\vbm365-auth-app.exe"
  File "${STAGE}\vbm365-auth.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\README.txt"
  File "${STAGE}\icon.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\vbm365-auth-app.exe" "" "$INSTDIR\icon.ico"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "VBM365 Auth contributors"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section /o "Start with Windows (in the tray)" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${RUN_VALUE}" '"$INSTDIR\vbm365-auth-app.exe" --hidden'
  ; A switch left "off" in Task Manager by an earlier install would keep it from running.
  DeleteRegValue HKCU "${APPROVED_KEY}" "${RUN_VALUE}"
SectionEnd

Section "Add vbm365-auth to PATH" SecPath
  !insertmacro UserPath 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "AddedToPath" 1
SectionEnd

; Command-line choices for unattended installs (see the top).
Function .onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/AUTOSTART" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${SecAutostart}
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/NOPATH" $R1
  ${IfNot} ${Errors}
    !insertmacro UnselectSection ${SecPath}
  ${EndIf}
FunctionEnd

Section "Uninstall"
  !insertmacro CloseApp

  ReadRegDWORD $1 HKCU "${UNINSTALL_KEY}" "AddedToPath"
  ${If} $1 == 1
    !insertmacro UserPath 0
  ${EndIf}
  ; Only the entry that points here (the app's setting may have written it too).
  ReadRegStr $1 HKCU "${RUN_KEY}" "${RUN_VALUE}"
  StrCpy $2 "$INSTDIR\vbm365-auth-app.exe"
  StrLen $3 $2
  StrCpy $4 $1 $3
  StrCpy $5 $1 $3 1
  ${If} $4 == $2
  ${OrIf} $5 == $2
    DeleteRegValue HKCU "${RUN_KEY}" "${RUN_VALUE}"
    DeleteRegValue HKCU "${APPROVED_KEY}" "${RUN_VALUE}"
  ${EndIf}

  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  Delete "$INSTDIR\vbm365-auth-app.exe"
  Delete "$INSTDIR\vbm365-auth.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\README.txt"
  Delete "$INSTDIR\icon.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
